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

#[cfg(test)]
mod tests {
    use super::*;

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
