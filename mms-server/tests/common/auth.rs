//! A server with `[auth]` for the tests: the test files, the `protect`
//! globs given, NTLM then Basic, user alice with password secret.

use std::sync::Arc;

use mms_proto::server::Config;
use mms_proto::time::Duration;
use mms_server::Options;
use mms_server::auth_policy::{AuthPolicy, offer};
use mms_server::config::Settings;
use mms_server::users::{Users, passwd};

/// The test files served unpaced (1 s linger), `protect` needing
/// identification.
pub fn serve_with_auth(tag: &str, protect: &[&str]) -> super::Running {
    let users = super::fresh_path(&format!("auth-users-{tag}.txt"));
    let _ = std::fs::remove_file(&users);
    passwd(&users, "alice", "secret").unwrap();
    let toml = super::fresh_path(&format!("auth-{tag}.toml"));
    std::fs::write(
        &toml,
        format!(
            "[auth]\nusers = {:?}\nschemes = [\"ntlm\", \"basic\"]\nprotect = {protect:?}\n",
            users.display().to_string()
        ),
    )
    .unwrap();
    let settings = Settings::from_file(&toml).unwrap();
    let auth = settings.auth.as_ref().unwrap();
    let policy = AuthPolicy::new(auth, Users::load(&users).unwrap()).unwrap();
    super::serve_with(
        &super::testdata_dir(),
        Options {
            auth: Some(Arc::new(policy)),
            ..Options::new(Config {
                paced: false,
                linger: Some(Duration::from_secs(1)),
                auth: Some(offer(auth)),
                ..Config::default()
            })
        },
    )
}
