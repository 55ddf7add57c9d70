//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`) through the functions the fuzz
//! targets call, on stable: every input that fuzzing kept (and every crash it found, once
//! fixed) stays a regression test. See RELIABILITY.md for running the fuzzers themselves.

#[path = "../../../fuzz/corpus_replay.rs"]
mod corpus_replay;
use corpus_replay::replay;

#[test]
fn openai_response_corpus_replays_without_a_panic() {
    replay("openai_response", slm_remote::fuzzing::openai_response);
}
