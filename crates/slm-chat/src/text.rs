//! Turning token bytes into streamed text: UTF-8 reassembly and stop strings, the same for
//! every local backend.

/// Reassembles UTF-8 from token pieces: a character split across tokens is held back until it
/// is complete, so no delta ever splits a character. Bytes that can never form valid UTF-8 (a
/// byte-level model can emit any byte) become U+FFFD, as `String::from_utf8_lossy` would.
///
/// ```
/// let mut d = slm_chat::text::Utf8Decoder::default();
/// let euro = "€".as_bytes();
/// assert_eq!(d.push(&euro[..2]), "");
/// assert_eq!(d.push(&euro[2..]), "€");
/// assert_eq!(d.finish(), "");
/// ```
#[derive(Debug, Default)]
pub struct Utf8Decoder {
    pending: Vec<u8>,
}

impl Utf8Decoder {
    /// Adds bytes and returns the text that is now complete.
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(text) => {
                    out.push_str(text);
                    self.pending.clear();
                    return out;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    out.push_str(
                        std::str::from_utf8(&self.pending[..valid]).expect("valid prefix"),
                    );
                    match e.error_len() {
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid + bad);
                        }
                        None => {
                            // An incomplete character at the end: keep it for the next piece.
                            self.pending.drain(..valid);
                            return out;
                        }
                    }
                }
            }
        }
    }

    /// Ends the text: an incomplete trailing character becomes U+FFFD.
    pub fn finish(&mut self) -> String {
        let out = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        out
    }
}

/// Finds stop strings in streamed text. Text that might be the start of a stop string is held
/// back until it is clear, so a stop string never reaches the caller, even split over tokens.
///
/// ```
/// let mut m = slm_chat::text::StopMatcher::new(&["END".to_string()]);
/// assert_eq!(m.push("abc E").emit, "abc ");
/// let out = m.push("ND more");
/// assert_eq!((out.emit.as_str(), out.stopped), ("", true));
/// ```
#[derive(Debug, Default)]
pub struct StopMatcher {
    stops: Vec<String>,
    held: String,
}

/// What [`StopMatcher::push`] decided.
///
/// ```
/// let out = slm_chat::text::StopMatcher::new(&[]).push("hi");
/// assert_eq!(out, slm_chat::text::StopOutcome { emit: "hi".into(), stopped: false });
/// ```
#[derive(Debug, PartialEq, Eq)]
pub struct StopOutcome {
    /// Text safe to emit now.
    pub emit: String,
    /// A stop string was found; generation must end (the stop string is not emitted).
    pub stopped: bool,
}

impl StopMatcher {
    /// A matcher of these stop strings (empty ones are ignored).
    pub fn new(stops: &[String]) -> Self {
        Self {
            stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(),
            held: String::new(),
        }
    }

    /// Adds streamed text; returns what may be emitted now and whether a stop string ended it.
    pub fn push(&mut self, text: &str) -> StopOutcome {
        self.held.push_str(text);
        if self.stops.is_empty() {
            return StopOutcome {
                emit: std::mem::take(&mut self.held),
                stopped: false,
            };
        }
        if let Some(at) = self
            .stops
            .iter()
            .filter_map(|s| self.held.find(s.as_str()))
            .min()
        {
            let emit = self.held[..at].to_string();
            self.held.clear();
            return StopOutcome {
                emit,
                stopped: true,
            };
        }
        let keep = self.longest_partial_suffix();
        let cut = self.held.len() - keep;
        let emit = self.held[..cut].to_string();
        self.held.drain(..cut);
        StopOutcome {
            emit,
            stopped: false,
        }
    }

    /// Bytes at the end of `held` that begin some stop string.
    fn longest_partial_suffix(&self) -> usize {
        let max = self.stops.iter().map(String::len).max().unwrap_or(0);
        (1..max.min(self.held.len() + 1))
            .rev()
            .find(|&n| {
                let start = self.held.len() - n;
                self.held.is_char_boundary(start)
                    && self
                        .stops
                        .iter()
                        .any(|s| s.starts_with(&self.held[start..]))
            })
            .unwrap_or(0)
    }

    /// Ends the text: whatever was held back is released.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_characters_are_held_until_complete() {
        let mut d = Utf8Decoder::default();
        let euro = "€".as_bytes();
        assert_eq!(d.push(&euro[..1]), "");
        assert_eq!(d.push(&euro[1..2]), "");
        assert_eq!(d.push(&[euro[2], b'a']), "€a");
        assert_eq!(d.finish(), "");
    }

    #[test]
    fn invalid_bytes_become_replacement_characters() {
        let mut d = Utf8Decoder::default();
        assert_eq!(d.push(&[0xFF, b'a', 0xF8]), "\u{FFFD}a\u{FFFD}");
        assert_eq!(d.push(&[0xE2, 0x82]), "");
        assert_eq!(d.push(b"b"), "\u{FFFD}b");
        assert_eq!(d.push(&[0xE2]), "");
        assert_eq!(d.finish(), "\u{FFFD}");
    }

    #[test]
    fn decoding_piecewise_equals_lossy_decoding_of_the_whole() {
        let bytes: Vec<u8> = "héllo wörld €𝄞"
            .bytes()
            .chain([0xC3, 0x28, 0xF0, 0x9F])
            .collect();
        for split in 1..6 {
            let mut d = Utf8Decoder::default();
            let mut text = String::new();
            for chunk in bytes.chunks(split) {
                text.push_str(&d.push(chunk));
            }
            text.push_str(&d.finish());
            assert_eq!(text, String::from_utf8_lossy(&bytes), "chunk size {split}");
        }
    }

    #[test]
    fn stop_strings_split_over_pieces_are_caught() {
        let mut m = StopMatcher::new(&["END".to_string()]);
        assert_eq!(m.push("abc E").emit, "abc ");
        assert_eq!(m.push("N").emit, "");
        let last = m.push("Dxyz");
        assert_eq!(
            last,
            StopOutcome {
                emit: String::new(),
                stopped: true
            }
        );
    }

    #[test]
    fn false_starts_are_released() {
        let mut m = StopMatcher::new(&["END".to_string(), "\n\n".to_string()]);
        assert_eq!(m.push("EN").emit, "");
        assert_eq!(m.push("d").emit, "ENd");
        assert_eq!(m.push("x\n").emit, "x");
        assert_eq!(m.finish(), "\n");
    }

    #[test]
    fn earliest_stop_wins() {
        let mut m = StopMatcher::new(&["b".to_string(), "a".to_string()]);
        let out = m.push("xxab");
        assert_eq!(out.emit, "xx");
        assert!(out.stopped);
    }

    #[test]
    fn held_text_respects_char_boundaries() {
        let mut m = StopMatcher::new(&["é!".to_string()]);
        assert_eq!(m.push("aé").emit, "a");
        assert_eq!(m.push("?").emit, "é?");
    }
}
