#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| slm_llamacpp::fuzzing::gguf_header(data));
