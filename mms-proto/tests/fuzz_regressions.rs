//! Replays every input saved under `mms-fuzz/regressions/<target>/`
//! through the oracle of that fuzz target. A crash found by `cargo xtask
//! fuzz` is copied there, fixed, and stays a test forever.

use std::path::Path;

type Oracle = fn(&[u8]);

fn oracle(target: &str) -> Option<Oracle> {
    use mms_proto::fuzzing::*;
    Some(match target {
        "message" => message,
        "framer" => framer,
        "data_packet" => data_packet,
        "resend" => resend,
        "client_log" => client_log,
        "subscriber" => subscriber,
        "funnel_name" => funnel_name,
        "version" => version,
        "authen_package" => authen_package,
        "redirect_location" => redirect_location,
        "basic_challenge" => basic_challenge,
        "asf_header" => asf_header,
        "asf_packet" => asf_packet,
        "asf_rewrite" => asf_rewrite,
        "server" => server,
        "client" => client,
        "ntlm_token" => ntlm_token,
        "ntlm_challenge" => ntlm_challenge,
        "ntlm_authenticate" => ntlm_authenticate,
        "basic_credentials" => basic_credentials,
        _ => return None,
    })
}

#[test]
fn replay_saved_fuzz_inputs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../mms-fuzz/regressions");
    let mut replayed = 0;
    for dir in std::fs::read_dir(&root).expect("mms-fuzz/regressions exists") {
        let dir = dir.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let f = oracle(&name).unwrap_or_else(|| panic!("no fuzz target named {name}"));
        for file in std::fs::read_dir(&dir).unwrap() {
            let path = file.unwrap().path();
            if path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                continue;
            }
            f(&std::fs::read(&path).unwrap());
            replayed += 1;
        }
    }
    assert!(
        replayed > 0,
        "no regression inputs found under {}",
        root.display()
    );
}
