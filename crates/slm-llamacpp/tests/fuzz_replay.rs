//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`) through the functions the fuzz
//! targets call, on stable: every input that fuzzing kept (and every crash it found, once
//! fixed) stays a regression test. See RELIABILITY.md for running the fuzzers themselves.

#[path = "../../../fuzz/corpus_replay.rs"]
mod corpus_replay;
use corpus_replay::replay;

#[test]
fn gguf_header_corpus_replays_without_a_panic() {
    replay("gguf_header", slm_llamacpp::fuzzing::gguf_header);
}

#[test]
fn tool_calls_corpus_replays_without_a_panic() {
    replay("tool_calls", slm_llamacpp::fuzzing::tool_calls);
}

#[test]
fn chat_template_corpus_replays_without_a_panic() {
    replay("chat_template", slm_llamacpp::fuzzing::chat_template);
}
