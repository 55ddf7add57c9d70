//! The sampler chain built from a request's [`GenerationOptions`].

use llama_cpp_2::sampling::LlamaSampler;
use slm_core::GenerationOptions;

use crate::LlamaCppError;

/// llama.cpp's defaults, used when a request leaves an option unset.
pub(crate) const DEFAULT_TEMPERATURE: f32 = 0.8;
pub(crate) const DEFAULT_TOP_K: u32 = 40;
pub(crate) const DEFAULT_TOP_P: f32 = 0.95;
pub(crate) const DEFAULT_MIN_P: f32 = 0.05;
/// Tokens the repeat penalty looks back over.
pub(crate) const REPEAT_LAST_N: i32 = 64;

/// Checks option values that llama.cpp would otherwise accept silently or assert on.
pub(crate) fn validate(options: &GenerationOptions) -> Result<(), LlamaCppError> {
    let bad = |m: String| Err(LlamaCppError::InvalidRequest(m));
    if let Some(t) = options.temperature
        && !(t.is_finite() && t >= 0.0)
    {
        return bad(format!("temperature must be >= 0, got {t}"));
    }
    if let Some(p) = options.top_p
        && !(p > 0.0 && p <= 1.0)
    {
        return bad(format!("top_p must be in (0, 1], got {p}"));
    }
    if let Some(p) = options.min_p
        && !(0.0..=1.0).contains(&p)
    {
        return bad(format!("min_p must be in [0, 1], got {p}"));
    }
    if let Some(r) = options.repeat_penalty
        && !(r.is_finite() && r > 0.0)
    {
        return bad(format!("repeat_penalty must be > 0, got {r}"));
    }
    if options.max_tokens == Some(0) {
        return bad("max_tokens must be positive".into());
    }
    Ok(())
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

/// Penalties, then greedy when temperature is 0; otherwise top-k, top-p, min-p, temperature and
/// a seeded draw.
pub(crate) fn sampler_chain(options: &GenerationOptions, n_vocab: i32) -> LlamaSampler {
    let mut chain = Vec::new();
    let repeat = options.repeat_penalty.unwrap_or(1.0);
    if repeat != 1.0 {
        chain.push(LlamaSampler::penalties(
            n_vocab,
            REPEAT_LAST_N,
            repeat,
            0.0,
            0.0,
        ));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_are_rejected() {
        for o in [
            GenerationOptions::default().with_temperature(-1.0),
            GenerationOptions::default().with_temperature(f32::NAN),
            GenerationOptions {
                top_p: Some(0.0),
                ..Default::default()
            },
            GenerationOptions {
                min_p: Some(2.0),
                ..Default::default()
            },
            GenerationOptions {
                repeat_penalty: Some(0.0),
                ..Default::default()
            },
            GenerationOptions::default().with_max_tokens(0),
        ] {
            assert!(validate(&o).is_err(), "{o:?}");
        }
        assert!(validate(&GenerationOptions::deterministic()).is_ok());
    }

    #[test]
    fn seeds_are_stable_and_never_the_random_marker() {
        assert_eq!(seed32(Some(42)), 42);
        assert_eq!(seed32(Some(u32::MAX as u64)), 0);
        assert_ne!(seed32(Some(1 << 40)), seed32(Some(1 << 41)));
    }
}
