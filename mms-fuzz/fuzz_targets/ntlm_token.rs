#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| mms_proto::fuzzing::ntlm_token(data));
