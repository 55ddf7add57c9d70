//! Choosing the next token from the logits: penalties, temperature, top-k, top-p, min-p, and a
//! seeded random generator (the same seed gives the same answer).

use rand::{Rng, SeedableRng, rngs::StdRng};
use slm_core::GenerationOptions;

/// Defaults where a request sets nothing (llama.cpp's).
const DEFAULT_TEMPERATURE: f32 = 0.8;
const DEFAULT_TOP_P: f32 = 0.95;
const DEFAULT_TOP_K: u32 = 40;
const DEFAULT_MIN_P: f32 = 0.05;
const DEFAULT_REPEAT_LAST_N: usize = 64;

/// A sampler for one answer.
#[derive(Debug)]
pub(crate) struct Sampler {
    temperature: f32,
    top_p: f32,
    top_k: usize,
    min_p: f32,
    repeat_penalty: f32,
    presence: f32,
    frequency: f32,
    last_n: usize,
    rng: StdRng,
}

impl Sampler {
    pub(crate) fn new(options: &GenerationOptions) -> Self {
        let seed = options.seed.unwrap_or_else(rand::random);
        Self {
            temperature: options.temperature.unwrap_or(DEFAULT_TEMPERATURE),
            top_p: options.top_p.unwrap_or(DEFAULT_TOP_P),
            top_k: options.top_k.unwrap_or(DEFAULT_TOP_K) as usize,
            min_p: options.min_p.unwrap_or(DEFAULT_MIN_P),
            repeat_penalty: options.repeat_penalty.unwrap_or(1.0),
            presence: options.presence_penalty.unwrap_or(0.0),
            frequency: options.frequency_penalty.unwrap_or(0.0),
            last_n: options
                .repeat_last_n
                .map_or(DEFAULT_REPEAT_LAST_N, |n| n as usize),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// Picks the next token. `logits` holds the whole vocabulary (forbidden tokens at -inf);
    /// `history` the tokens so far (for penalties). `None` when every token is forbidden.
    pub(crate) fn sample(&mut self, logits: &mut [f32], history: &[u32]) -> Option<u32> {
        self.penalize(logits, history);
        if self.temperature <= 0.0 || self.top_k == 1 {
            return argmax(logits);
        }
        let mut candidates: Vec<(u32, f32)> = logits
            .iter()
            .enumerate()
            .filter(|(_, l)| l.is_finite())
            .map(|(i, &l)| (i as u32, l / self.temperature))
            .collect();
        if candidates.is_empty() {
            return None;
        }
        candidates.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        if self.top_k > 0 {
            candidates.truncate(self.top_k);
        }
        let max = candidates[0].1;
        let mut probs: Vec<f32> = candidates.iter().map(|(_, l)| (l - max).exp()).collect();
        let sum: f32 = probs.iter().sum();
        probs.iter_mut().for_each(|p| *p /= sum);
        // min-p: drop tokens less likely than min_p times the best.
        let floor = self.min_p * probs[0];
        let mut keep = probs.iter().take_while(|&&p| p >= floor).count().max(1);
        // top-p: the smallest prefix whose mass reaches top_p.
        if self.top_p < 1.0 {
            let mut mass = 0.0;
            for (i, p) in probs[..keep].iter().enumerate() {
                mass += p;
                if mass >= self.top_p {
                    keep = i + 1;
                    break;
                }
            }
        }
        let total: f32 = probs[..keep].iter().sum();
        let mut r = self.rng.random::<f32>() * total;
        for (i, p) in probs[..keep].iter().enumerate() {
            if r < *p {
                return Some(candidates[i].0);
            }
            r -= p;
        }
        Some(candidates[keep - 1].0)
    }

    fn penalize(&self, logits: &mut [f32], history: &[u32]) {
        if self.repeat_penalty == 1.0 && self.presence == 0.0 && self.frequency == 0.0 {
            return;
        }
        let recent = &history[history.len().saturating_sub(self.last_n)..];
        let mut counts = std::collections::HashMap::<u32, u32>::new();
        for &t in recent {
            *counts.entry(t).or_default() += 1;
        }
        for (t, n) in counts {
            let Some(l) = logits.get_mut(t as usize) else {
                continue;
            };
            if !l.is_finite() {
                continue;
            }
            *l = if *l > 0.0 {
                *l / self.repeat_penalty
            } else {
                *l * self.repeat_penalty
            };
            *l -= self.presence + self.frequency * n as f32;
        }
    }
}

/// The index of the largest finite logit (the lowest index on ties).
pub(crate) fn argmax(logits: &[f32]) -> Option<u32> {
    let mut best: Option<(usize, f32)> = None;
    for (i, &l) in logits.iter().enumerate() {
        if l.is_finite() && best.is_none_or(|(_, b)| l > b) {
            best = Some((i, l));
        }
    }
    best.map(|(i, _)| i as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_takes_the_argmax_and_skips_forbidden_tokens() {
        let opts = GenerationOptions::deterministic();
        let mut s = Sampler::new(&opts);
        assert_eq!(s.sample(&mut [0.0, 3.0, 1.0], &[]), Some(1));
        assert_eq!(s.sample(&mut [0.0, f32::NEG_INFINITY, 1.0], &[]), Some(2));
        assert_eq!(s.sample(&mut [f32::NEG_INFINITY; 3], &[]), None);
    }

    #[test]
    fn the_same_seed_samples_the_same_tokens() {
        let opts = GenerationOptions::default()
            .with_temperature(1.0)
            .with_seed(7);
        let logits: Vec<f32> = (0..50).map(|i| (i % 7) as f32 * 0.3).collect();
        let run = || {
            let mut s = Sampler::new(&opts);
            (0..20)
                .map(|_| s.sample(&mut logits.clone(), &[]).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn top_k_one_is_greedy() {
        let opts = GenerationOptions::default()
            .with_top_k(1)
            .with_temperature(5.0);
        let mut s = Sampler::new(&opts);
        for _ in 0..10 {
            assert_eq!(s.sample(&mut [0.0, 0.1, 0.05], &[]), Some(1));
        }
    }
}
