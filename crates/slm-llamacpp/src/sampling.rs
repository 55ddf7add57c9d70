//! The sampler chain built from a request's [`GenerationOptions`], in llama.cpp's common order:
//! penalties, DRY, then greedy, or top-k, top-p, min-p, temperature and a seeded draw.

use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use slm_core::{DrySampling, GenerationOptions};

use crate::LlamaCppError;

/// llama.cpp's defaults, used when a request leaves an option unset.
pub(crate) const DEFAULT_TEMPERATURE: f32 = 0.8;
pub(crate) const DEFAULT_TOP_K: u32 = 40;
pub(crate) const DEFAULT_TOP_P: f32 = 0.95;
pub(crate) const DEFAULT_MIN_P: f32 = 0.05;
/// Tokens the repeat, presence and frequency penalties look back over by default.
pub(crate) const REPEAT_LAST_N: u32 = 64;

/// Checks option values that llama.cpp would otherwise accept silently or assert on.
pub(crate) fn validate(options: &GenerationOptions) -> Result<(), LlamaCppError> {
    options
        .validate()
        .map_err(|e| LlamaCppError::InvalidRequest(e.to_string()))
}

/// The 32-bit seed llama.cpp takes, from a 64-bit one; a fresh one when unset.
pub(crate) fn seed32(seed: Option<u64>) -> u32 {
    let seed = seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    });
    let folded = (seed ^ (seed >> 32)) as u32;
    // 0xFFFFFFFF means "random" to llama.cpp.
    if folded == u32::MAX { 0 } else { folded }
}

/// The chain for validated `options`, on a context of `context_length` tokens (the longest
/// history the penalties can look back over; llama.cpp allocates their windows up front).
pub(crate) fn sampler_chain(
    options: &GenerationOptions,
    model: &LlamaModel,
    context_length: u32,
) -> LlamaSampler {
    let mut chain: Vec<LlamaSampler> = penalties(options, model.n_vocab(), context_length)
        .into_iter()
        .chain(
            options
                .dry
                .as_ref()
                .and_then(|d| dry(d, model, context_length)),
        )
        .collect();
    if options.is_greedy() {
        chain.push(LlamaSampler::greedy());
        return LlamaSampler::chain(chain, true);
    }
    let top_k = options.top_k.unwrap_or(DEFAULT_TOP_K);
    if top_k > 0 {
        chain.push(LlamaSampler::top_k(top_k.min(i32::MAX as u32) as i32));
    }
    let top_p = options.top_p.unwrap_or(DEFAULT_TOP_P);
    if top_p < 1.0 {
        chain.push(LlamaSampler::top_p(top_p, 1));
    }
    let min_p = options.min_p.unwrap_or(DEFAULT_MIN_P);
    if min_p > 0.0 {
        chain.push(LlamaSampler::min_p(min_p, 1));
    }
    chain.push(LlamaSampler::temp(
        options.temperature.unwrap_or(DEFAULT_TEMPERATURE),
    ));
    chain.push(LlamaSampler::dist(seed32(options.seed)));
    LlamaSampler::chain(chain, true)
}

/// Repeat, frequency and presence penalties over the last `repeat_last_n` tokens; `None` when
/// all are off.
fn penalties(
    options: &GenerationOptions,
    n_vocab: i32,
    context_length: u32,
) -> Option<LlamaSampler> {
    let repeat = options.repeat_penalty.unwrap_or(1.0);
    let frequency = options.frequency_penalty.unwrap_or(0.0);
    let presence = options.presence_penalty.unwrap_or(0.0);
    let last_n = window(
        options.repeat_last_n.unwrap_or(REPEAT_LAST_N),
        context_length,
    );
    let off = repeat == 1.0 && frequency == 0.0 && presence == 0.0;
    (!off && last_n > 0)
        .then(|| LlamaSampler::penalties(n_vocab, last_n, repeat, frequency, presence))
}

/// The DRY sampler; `None` when its multiplier or window is 0.
fn dry(dry: &DrySampling, model: &LlamaModel, context_length: u32) -> Option<LlamaSampler> {
    let last_n = window(dry.penalty_last_n.unwrap_or(context_length), context_length);
    (dry.multiplier > 0.0 && last_n > 0).then(|| {
        LlamaSampler::dry(
            model,
            dry.multiplier,
            dry.base,
            dry.allowed_length.min(i32::MAX as u32) as i32,
            last_n,
            dry.sequence_breakers.iter().map(String::as_bytes),
        )
    })
}

/// A look-back window, at most the context (llama.cpp allocates it whole).
fn window(tokens: u32, context_length: u32) -> i32 {
    tokens.min(context_length).min(i32::MAX as u32) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_are_rejected() {
        for o in [
            GenerationOptions::default().with_temperature(-1.0),
            GenerationOptions::default().with_temperature(f32::NAN),
            GenerationOptions::default().with_top_p(0.0),
            GenerationOptions::default().with_min_p(2.0),
            GenerationOptions::default().with_repeat_penalty(0.0),
            GenerationOptions::default().with_frequency_penalty(f32::INFINITY),
            GenerationOptions::default().with_presence_penalty(-2.5),
            GenerationOptions::default().with_dry(DrySampling {
                sequence_breakers: vec!["a\0b".into()],
                ..DrySampling::default()
            }),
            GenerationOptions::default().with_dry(DrySampling {
                base: 0.5,
                ..DrySampling::default()
            }),
            GenerationOptions::default().with_max_tokens(0),
        ] {
            assert!(
                matches!(validate(&o), Err(LlamaCppError::InvalidRequest(_))),
                "{o:?}"
            );
        }
        assert!(validate(&GenerationOptions::deterministic()).is_ok());
    }

    #[test]
    fn windows_never_exceed_the_context() {
        assert_eq!(window(64, 4096), 64);
        assert_eq!(window(u32::MAX, 4096), 4096);
        assert_eq!(window(0, 4096), 0);
    }

    #[test]
    fn seeds_are_stable_and_never_the_random_marker() {
        assert_eq!(seed32(Some(42)), 42);
        assert_eq!(seed32(Some(u32::MAX as u64)), 0);
        assert_ne!(seed32(Some(1 << 40)), seed32(Some(1 << 41)));
    }
}
