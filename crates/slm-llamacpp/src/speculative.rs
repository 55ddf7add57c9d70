//! Prompt-lookup drafts for speculative decoding: the tokens that followed the latest earlier
//! occurrence of the text's last n-gram.
//!
//! The worker decodes a sequence's next token together with such a draft in one batch, then
//! samples each position in turn: as long as the sampled token equals the drafted one, the
//! draft's keys and values are already in the cache and the next position's logits are
//! already computed. The first disagreement ends the step (its sampled token is decoded next
//! step) and the rest of the draft is cut from the cache. Sampling at each position is the
//! ordinary sampler on the model's own logits, so the output is what plain decoding would
//! give: identical when greedy, the same distribution when sampled (a drafted token that is
//! a fixed proposal is kept exactly when the sampler picks it).

use slm_core::PromptLookup;

/// Proposes up to `room` tokens to follow `history` (prompt then answer so far): for `n` from
/// `ngram_max` down to `ngram_min`, the latest earlier occurrence of `history`'s last `n`
/// tokens, and the tokens after it. Empty when nothing matches or `room` is 0.
pub(crate) fn draft<T: Copy + PartialEq>(
    history: &[T],
    lookup: &PromptLookup,
    room: usize,
) -> Vec<T> {
    let room = room.min(lookup.max_draft as usize);
    if room == 0 {
        return Vec::new();
    }
    let longest = (lookup.ngram_max as usize).min(history.len().saturating_sub(1));
    let shortest = (lookup.ngram_min as usize).max(1);
    for n in (shortest..=longest).rev() {
        let pattern = &history[history.len() - n..];
        // Latest occurrence first: it is the likeliest to continue the same way.
        let found = (0..history.len() - n)
            .rev()
            .find(|&start| &history[start..start + n] == pattern);
        if let Some(start) = found {
            let from = start + n;
            let to = (from + room).min(history.len());
            return history[from..to].to_vec();
        }
    }
    Vec::new()
}

/// How long a sequence's next draft may be, from how its drafts fared. Checking a draft of k
/// tokens costs more than one step (on a CPU, 1.3-1.9 single steps for one drafted token,
/// about 5 for eight on SmolLM2 Q4_1), so drafts are kept short until they prove right:
/// - the limit starts at 2, doubles while drafts are kept whole (up to the request's
///   `max_draft`), and falls to what was kept (at least 1) after a miss;
/// - a draft of which nothing was kept pauses drafting for 2, 4, 8 … up to [`MAX_PAUSE`]
///   steps, the longer the more such drafts in a row, so that free writing, where an n-gram
///   now and then matches by chance, pays for few checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pacing {
    limit: usize,
    misses: u32,
    pause: u32,
}

/// Most steps a sequence waits before drafting again.
pub(crate) const MAX_PAUSE: u32 = 32;

impl Default for Pacing {
    fn default() -> Self {
        Self {
            limit: 2,
            misses: 0,
            pause: 0,
        }
    }
}

impl Pacing {
    /// The longest draft this step may carry (0 while paused); called once a generating step,
    /// it spends one step of a pause.
    pub(crate) fn next_step(&mut self) -> usize {
        if self.pause > 0 {
            self.pause -= 1;
            0
        } else {
            self.limit
        }
    }

    /// A draft of `drafted` tokens was checked and its first `kept` were accepted.
    pub(crate) fn checked(&mut self, drafted: usize, kept: usize, max_draft: usize) {
        self.limit = if kept == drafted {
            (self.limit * 2).min(max_draft.max(1))
        } else {
            kept.max(1)
        };
        if kept == 0 {
            self.misses += 1;
            self.pause = 2u32.saturating_pow(self.misses).min(MAX_PAUSE);
        } else {
            self.misses = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drafts_grow_while_kept_whole_and_shrink_to_what_was_kept() {
        let mut pacing = Pacing::default();
        assert_eq!(pacing.next_step(), 2);
        pacing.checked(2, 2, 8);
        assert_eq!(pacing.next_step(), 4);
        pacing.checked(4, 4, 8);
        pacing.checked(8, 8, 8);
        assert_eq!(pacing.next_step(), 8, "capped at max_draft");
        pacing.checked(8, 3, 8);
        assert_eq!(
            pacing.next_step(),
            3,
            "a partial miss keeps drafting, shorter"
        );
    }

    #[test]
    fn drafts_of_which_nothing_was_kept_pause_drafting_longer_each_time() {
        let mut pacing = Pacing::default();
        // Steps without a draft after each of 6 whole misses in a row: 2, 4, 8, 16, 32, 32.
        for want in [2, 4, 8, 16, 32, 32] {
            pacing.checked(1, 0, 8);
            let paused = std::iter::repeat_with(|| pacing.next_step())
                .take_while(|&room| room == 0)
                .count();
            assert_eq!(paused, want);
        }
        // One kept token ends the run of misses: the next miss pauses 2 steps again.
        pacing.checked(1, 1, 8);
        pacing.checked(2, 0, 8);
        assert_eq!(
            [pacing.next_step(), pacing.next_step(), pacing.next_step()],
            [0, 0, 1]
        );
    }

    fn lookup(min: u32, max: u32, draft: u32) -> PromptLookup {
        PromptLookup {
            ngram_min: min,
            ngram_max: max,
            max_draft: draft,
        }
    }

    #[test]
    fn the_longest_match_wins_and_its_continuation_is_drafted() {
        // "... 1 2 3 9 9 ... 2 3 7 8 ... 1 2 3": the 3-gram "1 2 3" continues with 9 9.
        let history = [1, 2, 3, 9, 9, 5, 2, 3, 7, 8, 6, 1, 2, 3];
        assert_eq!(
            draft(&history, &lookup(1, 3, 8), 8),
            [9, 9, 5, 2, 3, 7, 8, 6]
        );
        // Only 2-grams: the latest "2 3" continues with 7 8.
        assert_eq!(draft(&history, &lookup(1, 2, 2), 8), [7, 8]);
    }

    #[test]
    fn room_and_max_draft_bound_the_draft() {
        let history = [1, 2, 3, 4, 5, 1, 2];
        assert_eq!(draft(&history, &lookup(2, 2, 8), 2), [3, 4]);
        assert_eq!(draft(&history, &lookup(2, 2, 1), 8), [3]);
        assert!(draft(&history, &lookup(2, 2, 8), 0).is_empty());
    }

    #[test]
    fn no_match_or_short_history_drafts_nothing() {
        assert!(draft(&[1, 2, 3, 4], &lookup(1, 4, 8), 8).is_empty());
        assert!(draft::<u8>(&[], &lookup(1, 4, 8), 8).is_empty());
        assert!(draft(&[7], &lookup(1, 4, 8), 8).is_empty());
        // A repeated single token is a 1-gram match with itself one step back.
        assert_eq!(draft(&[7, 7], &lookup(1, 4, 8), 8), [7]);
    }

    #[test]
    fn the_draft_stops_at_the_end_of_the_history() {
        let history = [4, 5, 6, 4, 5];
        assert_eq!(draft(&history, &lookup(2, 2, 8), 8), [6, 4, 5]);
    }
}
