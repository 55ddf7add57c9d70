//! A tiny seeded random generator (SplitMix64) whose output never changes across versions.
//!
//! Splits and bootstrap resamples must be reproducible from a seed forever; `rand`'s `StdRng`
//! and `shuffle` are explicitly allowed to change between releases, so this crate keeps its own
//! 10-line generator (Steele et al., "Fast splittable pseudorandom number generators", 2014).

/// SplitMix64.
///
/// ```
/// let mut a = slm_eval::rng::SplitMix64::new(42);
/// let mut b = slm_eval::rng::SplitMix64::new(42);
/// assert_eq!(a.next_u64(), b.next_u64());
/// assert!(a.below(10) < 10);
/// ```
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator seeded with `seed`.
    ///
    /// ```
    /// let _ = slm_eval::rng::SplitMix64::new(7);
    /// ```
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    ///
    /// ```
    /// // Reference value of SplitMix64 seeded with 0.
    /// assert_eq!(slm_eval::rng::SplitMix64::new(0).next_u64(), 0xe220a8397b1dcdaf);
    /// ```
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform integer in `0..n` (Lemire's multiply-shift; `n` > 0).
    ///
    /// ```
    /// let mut r = slm_eval::rng::SplitMix64::new(1);
    /// assert!((0..100).all(|_| r.below(3) < 3));
    /// ```
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// Shuffles a slice in place (Fisher–Yates).
    ///
    /// ```
    /// let mut v: Vec<u32> = (0..10).collect();
    /// slm_eval::rng::SplitMix64::new(42).shuffle(&mut v);
    /// let mut sorted = v.clone();
    /// sorted.sort();
    /// assert_eq!(sorted, (0..10).collect::<Vec<_>>());
    /// ```
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}
