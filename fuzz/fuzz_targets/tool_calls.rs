#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| slm_llamacpp::fuzzing::tool_calls(data));
