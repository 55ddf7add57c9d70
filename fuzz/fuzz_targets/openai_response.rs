#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| slm_remote::fuzzing::openai_response(data));
