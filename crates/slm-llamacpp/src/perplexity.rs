//! Perplexity of a model on a text, computed the way llama.cpp's `llama-perplexity` does by
//! default, so the numbers can be compared with its output.

use std::num::NonZeroU32;
use std::path::Path;
use std::time::{Duration, Instant};

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use serde::{Deserialize, Serialize};

use crate::LlamaCppError;
use crate::gguf::GgufHeader;

/// The first 39,908 bytes of Tiny Shakespeare (from karpathy/char-rnn; Shakespeare's
/// *Coriolanus*, public domain): a bundled text to measure [`perplexity()`] on. About 11,000
/// tokens for SmolLM2's tokenizer, i.e. 21 chunks of 512. Origin in `data/README.md`.
///
/// ```
/// assert!(slm_llamacpp::SHAKESPEARE_SAMPLE.starts_with("First Citizen:\nBefore we proceed"));
/// assert_eq!(slm_llamacpp::SHAKESPEARE_SAMPLE.len(), 39_908);
/// ```
pub const SHAKESPEARE_SAMPLE: &str = include_str!("../data/tinyshakespeare-40k.txt");

/// Options of [`perplexity()`]; the defaults are `llama-perplexity`'s.
///
/// ```
/// let o = slm_llamacpp::PerplexityOptions::default();
/// assert_eq!(o.n_ctx, 512);
/// assert_eq!(o.max_chunks, None);
/// let short = slm_llamacpp::PerplexityOptions::default().with_n_ctx(128).with_max_chunks(4);
/// assert_eq!((short.n_ctx, short.max_chunks), (128, Some(4)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerplexityOptions {
    /// Tokens per chunk (`llama-perplexity -c`, default 512). At least 8.
    pub n_ctx: u32,
    /// Score at most this many chunks (`--chunks`); `None` scores every whole chunk.
    pub max_chunks: Option<usize>,
    /// Threads for decoding (`-t`); `None` uses the physical cores, as llama.cpp does.
    pub threads: Option<u32>,
    /// Layers offloaded to a GPU (`-ngl`), when built with one.
    pub gpu_layers: u32,
}

impl Default for PerplexityOptions {
    fn default() -> Self {
        Self {
            n_ctx: 512,
            max_chunks: None,
            threads: None,
            gpu_layers: 0,
        }
    }
}

impl PerplexityOptions {
    /// Sets the chunk size.
    ///
    /// ```
    /// assert_eq!(slm_llamacpp::PerplexityOptions::default().with_n_ctx(256).n_ctx, 256);
    /// ```
    pub fn with_n_ctx(mut self, n_ctx: u32) -> Self {
        self.n_ctx = n_ctx;
        self
    }

    /// Scores at most `chunks` chunks.
    ///
    /// ```
    /// assert_eq!(slm_llamacpp::PerplexityOptions::default().with_max_chunks(3).max_chunks, Some(3));
    /// ```
    pub fn with_max_chunks(mut self, chunks: usize) -> Self {
        self.max_chunks = Some(chunks);
        self
    }

    /// Sets the number of threads.
    ///
    /// ```
    /// assert_eq!(slm_llamacpp::PerplexityOptions::default().with_threads(2).threads, Some(2));
    /// ```
    pub fn with_threads(mut self, threads: u32) -> Self {
        self.threads = Some(threads);
        self
    }

    fn validate(&self) -> Result<(), LlamaCppError> {
        let bad = |m: String| Err(LlamaCppError::InvalidOption(m));
        if self.n_ctx < 8 {
            return bad(format!(
                "perplexity n_ctx must be at least 8, not {}",
                self.n_ctx
            ));
        }
        if self.n_ctx > 1 << 20 {
            return bad(format!("perplexity n_ctx {} is too large", self.n_ctx));
        }
        if self.max_chunks == Some(0) {
            return bad("perplexity max_chunks must be at least 1".into());
        }
        if self.threads == Some(0) {
            return bad("threads must be positive".into());
        }
        Ok(())
    }
}

/// One chunk's result.
///
/// ```
/// let c = slm_llamacpp::ChunkPerplexity { index: 0, perplexity: 12.5, running: 12.5 };
/// assert_eq!(c.index, 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChunkPerplexity {
    /// Chunk number, from 0.
    pub index: usize,
    /// Perplexity of this chunk's scored tokens alone.
    pub perplexity: f64,
    /// The estimate over every chunk so far: the `[i]value` that `llama-perplexity` prints.
    pub running: f64,
}

/// What [`perplexity()`] measured.
///
/// ```
/// use slm_llamacpp::{ChunkPerplexity, PerplexityReport};
/// let chunk = ChunkPerplexity { index: 0, perplexity: 20.0, running: 20.0 };
/// let r = PerplexityReport { perplexity: 20.0, std_error: 0.5, n_ctx: 512, text_tokens: 2048,
///     scored_tokens: 4 * 255, add_bos: true, chunks: vec![chunk; 4],
///     duration: std::time::Duration::from_secs(2) };
/// assert_eq!(r.tokens_per_second(), 1024.0);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerplexityReport {
    /// The final estimate: exp of the mean negative log-likelihood over every scored token
    /// (`llama-perplexity`'s `Final estimate: PPL = ...`).
    pub perplexity: f64,
    /// Its standard error (the `+/-` of `llama-perplexity`), 0 when undefined.
    pub std_error: f64,
    /// Tokens per chunk.
    pub n_ctx: u32,
    /// Tokens in the whole text (with BOS when the model adds one).
    pub text_tokens: usize,
    /// Tokens scored: `n_ctx - n_ctx/2 - 1` per chunk.
    pub scored_tokens: usize,
    /// Whether each chunk started with the model's BOS token.
    pub add_bos: bool,
    /// Each evaluated chunk.
    pub chunks: Vec<ChunkPerplexity>,
    /// Wall time, loading included.
    pub duration: Duration,
}

impl PerplexityReport {
    /// Evaluated tokens (chunks × n_ctx) per second of [`PerplexityReport::duration`].
    ///
    /// ```
    /// # let r = slm_llamacpp::PerplexityReport { perplexity: 2.0, std_error: 0.0, n_ctx: 8,
    /// #     text_tokens: 16, scored_tokens: 3, add_bos: true, chunks: vec![],
    /// #     duration: std::time::Duration::ZERO };
    /// assert_eq!(r.tokens_per_second(), 0.0);
    /// ```
    pub fn tokens_per_second(&self) -> f64 {
        let secs = self.duration.as_secs_f64();
        if secs == 0.0 {
            return 0.0;
        }
        (self.chunks.len() as f64 * f64::from(self.n_ctx)) / secs
    }
}

/// The perplexity of the model at `path` on `text`, computed exactly as llama.cpp's
/// `llama-perplexity -m path -f text.txt -c n_ctx` does by default:
///
/// 1. the whole text is tokenized once, with BOS when the model adds one (special tokens are
///    not parsed);
/// 2. it is cut into `tokens / n_ctx` chunks of `n_ctx` tokens (the rest is dropped), at most
///    [`PerplexityOptions::max_chunks`];
/// 3. each chunk is decoded from an empty cache, its first token replaced by BOS when the model
///    adds BOS;
/// 4. only the second half of each chunk is scored (positions `n_ctx/2 .. n_ctx-1` predict the
///    next token), so every scored token has at least `n_ctx/2` tokens of context;
/// 5. the result is `exp(mean negative log-likelihood)` over every scored token.
///
/// **Blocking:** it loads the model itself and runs for seconds to minutes (about 2 × the
/// prompt-processing time of the text); from async code, call it inside
/// `tokio::task::spawn_blocking`. It never aborts the process: the header is validated before
/// llama.cpp opens the file, a text shorter than two chunks is
/// [`LlamaCppError::TextTooShort`], and a model whose tokenizer appends EOS (where
/// `llama-perplexity` asserts) is [`LlamaCppError::UnsupportedModel`].
///
/// ```
/// use slm_llamacpp::{LlamaCppError, PerplexityOptions, perplexity};
/// use slm_llamacpp::testing::{TestModelSpec, write_test_model};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("tiny.gguf");
/// write_test_model(&path, &TestModelSpec::tiny()).unwrap();
///
/// let options = PerplexityOptions::default().with_n_ctx(64).with_max_chunks(2);
/// let report = perplexity(&path, slm_llamacpp::SHAKESPEARE_SAMPLE, &options).unwrap();
/// assert_eq!(report.chunks.len(), 2);
/// assert_eq!(report.scored_tokens, 2 * (64 - 32 - 1));
/// assert!(report.perplexity.is_finite() && report.perplexity > 1.0);
///
/// let err = perplexity(&path, "Too short.", &options).unwrap_err();
/// assert!(matches!(err, LlamaCppError::TextTooShort { needed: 128, .. }));
/// ```
pub fn perplexity(
    path: &Path,
    text: &str,
    options: &PerplexityOptions,
) -> Result<PerplexityReport, LlamaCppError> {
    let started = Instant::now();
    options.validate()?;
    // llama_tokenize takes the length as an i32 and its output count too.
    if text.len() >= (i32::MAX / 2) as usize {
        return Err(LlamaCppError::InvalidRequest(format!(
            "perplexity text of {} bytes is too large",
            text.len()
        )));
    }
    let header = GgufHeader::read(path)?;
    header.validate_for_loading(path)?;
    let backend = crate::backend()?;
    let model_params = LlamaModelParams::default().with_n_gpu_layers(options.gpu_layers);
    let model = LlamaModel::load_from_file(backend, path, &model_params)
        .map_err(|e| LlamaCppError::ModelLoad(format!("{}: {e}", path.display())))?;
    let vocab = model.vocab();
    if vocab.should_add_eos() {
        return Err(LlamaCppError::UnsupportedModel {
            path: path.to_path_buf(),
            reason: "its tokenizer appends EOS to every text, which perplexity (like \
                     llama-perplexity) does not support"
                .into(),
        });
    }
    let add_bos = vocab.should_add_bos();
    let bos = vocab.bos();
    let tokens = vocab.tokenize(text.as_bytes(), true, false);
    let n_ctx = options.n_ctx as usize;
    if tokens.len() < 2 * n_ctx {
        return Err(LlamaCppError::TextTooShort {
            tokens: tokens.len(),
            needed: 2 * n_ctx,
            n_ctx: options.n_ctx,
        });
    }
    let n_vocab = usize::try_from(model.n_vocab()).unwrap_or(0);
    if let Some(bad) = tokens.iter().find(|t| t.0 < 0 || t.0 as usize >= n_vocab) {
        return Err(LlamaCppError::Decode(format!(
            "the tokenizer produced token {} outside the vocabulary of {n_vocab}",
            bad.0
        )));
    }
    let n_chunk = (tokens.len() / n_ctx).min(options.max_chunks.unwrap_or(usize::MAX));
    let threads = options
        .threads
        .unwrap_or_else(|| num_cpus::get_physical().max(1) as u32) as i32;
    let ctx_params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(options.n_ctx))
        .with_n_batch(options.n_ctx)
        .with_n_ubatch(options.n_ctx.min(512))
        .with_n_seq_max(1)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let mut ctx = model.new_context(backend, ctx_params).map_err(|e| {
        LlamaCppError::ModelLoad(format!(
            "cannot create a context of {} tokens: {e}",
            options.n_ctx
        ))
    })?;
    let mut batch = LlamaBatch::new(n_ctx, 1);
    let first = n_ctx / 2;
    let per_chunk = n_ctx - first - 1;
    let (mut nll, mut nll2) = (0.0f64, 0.0f64);
    let mut count = 0usize;
    let mut chunks = Vec::with_capacity(n_chunk);
    for i in 0..n_chunk {
        let start = i * n_ctx;
        ctx.clear_kv_cache();
        batch.clear();
        for k in 0..n_ctx {
            let token = if k == 0 && add_bos {
                bos
            } else {
                tokens[start + k]
            };
            batch
                .add(token, k as i32, &[0], k >= first)
                .map_err(|e| LlamaCppError::Decode(e.to_string()))?;
        }
        ctx.decode(&mut batch)
            .map_err(|e| LlamaCppError::Decode(format!("perplexity chunk {i}: {e}")))?;
        let mut chunk_nll = 0.0f64;
        for k in first..n_ctx - 1 {
            let logits = ctx.get_logits_ith(k as i32);
            let v = negative_log_likelihood(logits, tokens[start + k + 1].0 as usize);
            chunk_nll += v;
            nll2 += v * v;
        }
        nll += chunk_nll;
        count += per_chunk;
        chunks.push(ChunkPerplexity {
            index: i,
            perplexity: (chunk_nll / per_chunk as f64).exp(),
            running: (nll / count as f64).exp(),
        });
    }
    let mean = nll / count as f64;
    let ppl = mean.exp();
    let variance = nll2 / count as f64 - mean * mean;
    let std_error = if variance > 0.0 && count > 1 {
        (variance / (count - 1) as f64).sqrt() * ppl
    } else {
        0.0
    };
    Ok(PerplexityReport {
        perplexity: ppl,
        std_error,
        n_ctx: options.n_ctx,
        text_tokens: tokens.len(),
        scored_tokens: count,
        add_bos,
        chunks,
        duration: started.elapsed(),
    })
}

/// `-log softmax(logits)[token]`, with llama-perplexity's arithmetic: f32 exponentials summed
/// in f64.
fn negative_log_likelihood(logits: &[f32], token: usize) -> f64 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|&l| f64::from((l - max).exp())).sum();
    let Some(&logit) = logits.get(token) else {
        return f64::INFINITY;
    };
    -(f64::from(logit - max) - sum.ln())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nll_matches_a_direct_softmax() {
        let logits = [1.0f32, 2.0, 3.0, -1.0];
        let z: f64 = logits.iter().map(|&l| f64::from(l).exp()).sum();
        for (t, &l) in logits.iter().enumerate() {
            let want = -(f64::from(l).exp() / z).ln();
            assert!((negative_log_likelihood(&logits, t) - want).abs() < 1e-6);
        }
        // Uniform logits over n tokens: nll = ln n.
        let uniform = [0.5f32; 8];
        assert!((negative_log_likelihood(&uniform, 3) - 8f64.ln()).abs() < 1e-9);
        assert!(negative_log_likelihood(&uniform, 8).is_infinite());
    }

    #[test]
    fn options_are_checked() {
        let too_small = PerplexityOptions::default().with_n_ctx(4);
        assert!(matches!(
            too_small.validate(),
            Err(LlamaCppError::InvalidOption(_))
        ));
        let zero_chunks = PerplexityOptions {
            max_chunks: Some(0),
            ..Default::default()
        };
        assert!(zero_chunks.validate().is_err());
        assert!(
            PerplexityOptions::default()
                .with_threads(0)
                .validate()
                .is_err()
        );
        assert!(PerplexityOptions::default().validate().is_ok());
    }
}
