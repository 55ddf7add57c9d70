//! What the `slm eval` tests share.

/// The counts `slm eval run` reports on stderr: (run now, from the cache, model calls).
pub fn counts(stderr: &str) -> (usize, usize, usize) {
    let number_before = |label: &str| -> usize {
        let head = &stderr[..stderr
            .find(label)
            .unwrap_or_else(|| panic!("no {label:?} in {stderr}"))];
        head.trim_end()
            .rsplit([' ', '('])
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|e| panic!("{label:?} in {stderr}: {e}"))
    };
    (
        number_before(" run:"),
        number_before(" from the cache"),
        number_before(" model calls"),
    )
}
