//! Keeps grammar-constrained output valid UTF-8.
//!
//! llama.cpp's grammar sampler decodes code points from token bytes but lets through bytes
//! that no valid UTF-8 text contains: stray continuation bytes, lead bytes 0xC0, 0xC1 and
//! 0xF5-0xFF, a lead byte without its continuations. With a byte-level vocabulary a model can
//! then write text that is not UTF-8 (seen as U+FFFD in the answer, and as strings longer
//! than the `maxLength` the grammar counted). The guard tracks where the answer stands in a
//! UTF-8 sequence and refuses any token whose bytes would break it, and the end of the answer
//! in the middle of a character.

use std::sync::Arc;

use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;

/// Where a byte stream stands in UTF-8: how many continuation bytes it still needs, and the
/// range the next one must fall in (narrower after E0, ED, F0, F4: no overlongs, no
/// surrogates, nothing past U+10FFFF).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Utf8State {
    pending: u8,
    lo: u8,
    hi: u8,
}

impl Default for Utf8State {
    fn default() -> Self {
        Utf8State {
            pending: 0,
            lo: 0x80,
            hi: 0xBF,
        }
    }
}

impl Utf8State {
    /// The state after `bytes`, or `None` if they make the stream invalid UTF-8.
    pub(crate) fn advance(mut self, bytes: &[u8]) -> Option<Utf8State> {
        for &b in bytes {
            if self.pending > 0 {
                if !(self.lo..=self.hi).contains(&b) {
                    return None;
                }
                self = Utf8State {
                    pending: self.pending - 1,
                    ..Utf8State::default()
                };
                continue;
            }
            let (pending, lo, hi) = match b {
                0x00..=0x7F => (0, 0x80, 0xBF),
                0xC2..=0xDF => (1, 0x80, 0xBF),
                0xE0 => (2, 0xA0, 0xBF),
                0xED => (2, 0x80, 0x9F),
                0xE1..=0xEF => (2, 0x80, 0xBF),
                0xF0 => (3, 0x90, 0xBF),
                0xF1..=0xF3 => (3, 0x80, 0xBF),
                0xF4 => (3, 0x80, 0x8F),
                _ => return None,
            };
            self = Utf8State { pending, lo, hi };
        }
        Some(self)
    }

    /// Whether the stream may end here (not inside a character).
    pub(crate) fn at_boundary(self) -> bool {
        self.pending == 0
    }
}

/// Every token's bytes, read once per model.
pub(crate) struct TokenBytes {
    pieces: Vec<Vec<u8>>,
    eog: Vec<bool>,
    /// Each token's effect from a character boundary (the common case), precomputed.
    from_boundary: Vec<Option<Utf8State>>,
}

impl TokenBytes {
    pub(crate) fn of(model: &LlamaModel) -> Arc<TokenBytes> {
        let vocab = model.vocab();
        let n = model.n_vocab().max(0);
        let pieces: Vec<Vec<u8>> = (0..n)
            .map(|t| vocab.token_to_piece(LlamaToken(t), false, None))
            .collect();
        let eog = (0..n).map(|t| vocab.is_eog(LlamaToken(t))).collect();
        let from_boundary = pieces
            .iter()
            .map(|p| Utf8State::default().advance(p))
            .collect();
        Arc::new(TokenBytes {
            pieces,
            eog,
            from_boundary,
        })
    }
}

/// The UTF-8 position of one answer.
pub(crate) struct Utf8Guard {
    tokens: Arc<TokenBytes>,
    state: Utf8State,
}

impl Utf8Guard {
    pub(crate) fn new(tokens: Arc<TokenBytes>) -> Self {
        Utf8Guard {
            tokens,
            state: Utf8State::default(),
        }
    }

    fn next_state(&self, token: LlamaToken) -> Option<Utf8State> {
        let i = usize::try_from(token.0).ok()?;
        if *self.tokens.eog.get(i)? {
            return self.state.at_boundary().then_some(self.state);
        }
        if self.state.at_boundary() {
            return self.tokens.from_boundary[i];
        }
        self.state.advance(&self.tokens.pieces[i])
    }

    /// Whether `token` keeps the answer valid UTF-8.
    pub(crate) fn allows(&self, token: LlamaToken) -> bool {
        self.next_state(token).is_some()
    }

    /// Records `token` as written.
    pub(crate) fn accept(&mut self, token: LlamaToken) {
        if let Some(state) = self.next_state(token) {
            self.state = state;
        }
    }

    /// Sets the logit of every token that would break UTF-8 to -inf.
    pub(crate) fn mask(&self, candidates: &mut LlamaTokenDataArray) {
        for d in &mut candidates.data {
            if !self.allows(d.id()) {
                d.set_logit(f32::NEG_INFINITY);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(bytes: &[u8]) -> bool {
        Utf8State::default()
            .advance(bytes)
            .is_some_and(Utf8State::at_boundary)
    }

    #[test]
    fn agrees_with_std_on_every_short_byte_string() {
        // Every 1- and 2-byte string, and 3-byte strings over the interesting bytes.
        let interesting = [
            0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0,
            0xE1, 0xED, 0xEF, 0xF0, 0xF3, 0xF4, 0xF5, 0xFF,
        ];
        for a in 0..=255u8 {
            assert_eq!(valid(&[a]), std::str::from_utf8(&[a]).is_ok(), "{a:02x}");
            for b in 0..=255u8 {
                assert_eq!(
                    valid(&[a, b]),
                    std::str::from_utf8(&[a, b]).is_ok(),
                    "{a:02x} {b:02x}"
                );
            }
        }
        for &a in &interesting {
            for &b in &interesting {
                for &c in &interesting {
                    for &d in &interesting {
                        let s = [a, b, c, d];
                        assert_eq!(valid(&s), std::str::from_utf8(&s).is_ok(), "{s:02x?}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_character_split_across_tokens_is_fine() {
        let euro = "€".as_bytes();
        let mid = Utf8State::default().advance(&euro[..1]).unwrap();
        assert!(!mid.at_boundary());
        assert!(mid.advance(&euro[1..]).unwrap().at_boundary());
        assert!(mid.advance(b"a").is_none());
    }
}
