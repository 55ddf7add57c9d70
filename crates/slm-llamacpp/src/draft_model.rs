//! Draft-model speculative decoding: a smaller model with the same vocabulary proposes the
//! next tokens of a sequence, greedily, from its own context; the worker then checks them with
//! the main model in one batch exactly as it checks prompt-lookup drafts (see
//! `speculative.rs`), so answers do not change.
//!
//! The draft context keeps, per sequence slot, the tokens its cache holds. Each proposal first
//! cuts that cache back to the longest prefix it shares with the sequence's history (which
//! drops the drafts the main model rejected, or a finished request's tokens when the slot is
//! reused), decodes what is missing, then drafts one token per decode.

use std::num::NonZeroU32;
use std::path::Path;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;

use crate::{LlamaCppError, LoadOptions};

/// Loads the draft model at `path` as the worker loads its model, and checks that it can
/// draft for `target`: the same number of tokens, each with the same text.
pub(crate) fn load(
    path: &Path,
    target: &LlamaModel,
    options: &LoadOptions,
) -> Result<LlamaModel, LlamaCppError> {
    let error = |reason: String| LlamaCppError::DraftModel {
        path: path.to_path_buf(),
        reason,
    };
    let (draft, _) = crate::worker::load(path, options).map_err(|e| error(e.to_string()))?;
    let (ours, theirs) = (target.vocab(), draft.vocab());
    if ours.n_tokens() != theirs.n_tokens() {
        return Err(error(format!(
            "its vocabulary has {} tokens, the model's {}",
            theirs.n_tokens(),
            ours.n_tokens()
        )));
    }
    if let Some(token) = ours.tokens().find(|&t| ours.text(t) != theirs.text(t)) {
        return Err(error(format!(
            "token {} is {:?} in the draft model and {:?} in the model",
            token.0,
            theirs.text(token),
            ours.text(token)
        )));
    }
    Ok(draft)
}

/// The draft model's context and what its cache holds.
pub(crate) struct Drafter<'d> {
    ctx: LlamaContext<'d>,
    batch: LlamaBatch<'static>,
    batch_size: usize,
    n_vocab: usize,
    /// Most tokens drafted per step.
    pub(crate) max_draft: usize,
    /// The tokens each sequence slot's draft cache holds, from position 0.
    held: Vec<Vec<LlamaToken>>,
}

impl<'d> Drafter<'d> {
    /// A context on `model` with the main context's slots and sizes.
    pub(crate) fn new(
        model: &'d LlamaModel,
        params: LlamaContextParams,
        n_ctx: u32,
        n_seq: u32,
        batch_size: usize,
        max_draft: u32,
        path: &Path,
    ) -> Result<Self, LlamaCppError> {
        let ctx = model
            .new_context(crate::backend()?, params.with_n_ctx(NonZeroU32::new(n_ctx)))
            .map_err(|e| LlamaCppError::DraftModel {
                path: path.to_path_buf(),
                reason: format!("cannot create its context of {n_ctx} tokens: {e}"),
            })?;
        Ok(Self {
            ctx,
            batch: LlamaBatch::new(batch_size, 1),
            batch_size,
            n_vocab: model.n_vocab().max(0) as usize,
            max_draft: max_draft.clamp(1, 64) as usize,
            held: vec![Vec::new(); n_seq as usize],
        })
    }

    /// Up to `room` tokens the draft model expects after `history` (the sequence's prompt
    /// and answer so far, its last token not yet decoded by the main model), greedily.
    pub(crate) fn propose(
        &mut self,
        seq_id: i32,
        history: &[LlamaToken],
        room: usize,
    ) -> Result<Vec<LlamaToken>, LlamaCppError> {
        let room = room.min(self.max_draft);
        let slot = usize::try_from(seq_id)
            .ok()
            .filter(|&s| s < self.held.len());
        let Some(slot) = slot.filter(|_| room > 0 && !history.is_empty()) else {
            return Ok(Vec::new());
        };
        // Keep what the cache shares with the history, but decode at least its last token:
        // its logits give the first draft.
        let shared = crate::worker::common_prefix(&self.held[slot], history).min(history.len() - 1);
        self.cut(slot, shared)?;
        let mut logits_at = self.feed(slot, &history[shared..])?;
        let mut draft = Vec::with_capacity(room);
        loop {
            let token = self.greedy(logits_at);
            draft.push(token);
            if draft.len() == room {
                return Ok(draft);
            }
            logits_at = self.feed(slot, &[token])?;
        }
    }

    /// Drops slot `slot`'s cached positions from `keep` on.
    fn cut(&mut self, slot: usize, keep: usize) -> Result<(), LlamaCppError> {
        if keep >= self.held[slot].len() {
            return Ok(());
        }
        let kv = |e: String| LlamaCppError::KvCache(format!("draft model: {e}"));
        let removed = self
            .ctx
            .clear_kv_cache_seq(Some(slot as u32), Some(keep as u32), None)
            .map_err(|e| kv(e.to_string()))?;
        if !removed {
            // A partial removal was refused: start the slot over.
            self.ctx
                .clear_kv_cache_seq(Some(slot as u32), None, None)
                .map_err(|e| kv(e.to_string()))?;
            self.held[slot].clear();
            return Ok(());
        }
        self.held[slot].truncate(keep);
        Ok(())
    }

    /// Decodes `tokens` after what slot `slot` holds, in batches; returns the batch index of
    /// the last token's logits.
    fn feed(&mut self, slot: usize, tokens: &[LlamaToken]) -> Result<i32, LlamaCppError> {
        let mut last = 0;
        for chunk in tokens.chunks(self.batch_size) {
            self.batch.clear();
            for (k, &token) in chunk.iter().enumerate() {
                let pos = (self.held[slot].len() + k) as i32;
                let logits = k + 1 == chunk.len();
                self.batch
                    .add(token, pos, &[slot as i32], logits)
                    .map_err(|e| LlamaCppError::Decode(format!("draft model batch: {e}")))?;
            }
            self.ctx
                .decode(&mut self.batch)
                .map_err(|e| LlamaCppError::Decode(format!("draft model: {e}")))?;
            self.held[slot].extend_from_slice(chunk);
            last = chunk.len() as i32 - 1;
        }
        Ok(last)
    }

    /// The draft model's most likely token at batch index `index`.
    fn greedy(&self, index: i32) -> LlamaToken {
        let logits = self.ctx.get_logits_ith(index);
        let best = logits[..self.n_vocab.min(logits.len())]
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i);
        LlamaToken(best as i32)
    }
}
