#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| slm_rag::fuzzing::bm25_index(data));
