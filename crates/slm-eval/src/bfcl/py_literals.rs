//! Python's `int()`, `float()`, `str.strip()` and string slicing on the strings BFCL's
//! Java/JavaScript converters feed them, so the converted values are the ones BFCL compares.

use fancy_regex::Regex;
use serde_json::{Number, Value};

/// Python's `int(text)` for a base-10 literal (surrounding whitespace, a sign, `_` between
/// digits); `None` where Python raises or the number does not fit an `i64`.
pub(crate) fn py_int(text: &str) -> Option<i64> {
    let digits = py_digits(text.trim())?;
    digits.parse().ok()
}

/// Python's `float(text)`; `None` where Python raises, and for `inf`/`nan`, which JSON cannot
/// hold (they are kept as text by the callers, a documented deviation).
pub(crate) fn py_float(text: &str) -> Option<f64> {
    let text = text.trim();
    let unsigned = text.trim_start_matches(['+', '-']);
    if text.len() - unsigned.len() > 1 {
        return None;
    }
    let lower = unsigned.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity" | "nan") {
        return None;
    }
    // Underscores may only separate digits.
    let chars: Vec<char> = text.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if *c == '_'
            && !(i > 0
                && chars[i - 1].is_ascii_digit()
                && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            return None;
        }
        if !(c.is_ascii_digit() || matches!(c, '_' | '.' | 'e' | 'E' | '+' | '-')) {
            return None;
        }
    }
    let cleaned: String = chars.into_iter().filter(|c| *c != '_').collect();
    cleaned.parse::<f64>().ok().filter(|f| f.is_finite())
}

fn py_digits(text: &str) -> Option<String> {
    let (sign, unsigned) = match text.strip_prefix(['+', '-']) {
        Some(rest) => (&text[..1], rest),
        None => ("", text),
    };
    if unsigned.is_empty() || unsigned.starts_with('_') || unsigned.ends_with('_') {
        return None;
    }
    if unsigned.contains("__") || !unsigned.chars().all(|c| c.is_ascii_digit() || c == '_') {
        return None;
    }
    let sign = if sign == "-" { "-" } else { "" };
    Some(format!("{sign}{}", unsigned.replace('_', "")))
}

/// A JSON float (Python `float`), or the text where JSON cannot hold the number.
pub(crate) fn float_value(f: f64, text: &str) -> Value {
    Number::from_f64(f).map_or_else(|| Value::String(text.into()), Value::Number)
}

/// Python's `text[1:-1]` (by characters).
pub(crate) fn inner(text: &str) -> String {
    let count = text.chars().count();
    text.chars().skip(1).take(count.saturating_sub(2)).collect()
}

/// Python's `text[:-1]` (by characters).
pub(crate) fn chop_last(text: &str) -> &str {
    text.char_indices().last().map_or("", |(i, _)| &text[..i])
}

/// A value that ends in `$` in Python also matches before one trailing newline: callers test
/// the text without it, as `int()`/`float()` ignore it too.
pub(crate) fn without_final_newline(text: &str) -> &str {
    text.strip_suffix('\n').unwrap_or(text)
}

/// Whether `pattern` (anchored with `^...$` by the caller) matches `text` as Python's
/// `re.match(r"^...$", text)` does.
pub(crate) fn full_match(pattern: &Regex, text: &str) -> bool {
    pattern
        .is_match(without_final_newline(text))
        .unwrap_or(false)
}

/// A regex known to compile.
pub(crate) fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("a valid built-in pattern")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_number_literals() {
        assert_eq!(py_int(" -12 "), Some(-12));
        assert_eq!(py_int("1_000"), Some(1000));
        assert_eq!(py_int("1__0"), None);
        assert_eq!(py_int("+7"), Some(7));
        assert_eq!(py_int("1.0"), None);
        assert_eq!(py_float("1e3"), Some(1000.0));
        assert_eq!(py_float(".5"), Some(0.5));
        assert_eq!(py_float("5."), Some(5.0));
        assert_eq!(py_float("1_0.5"), Some(10.5));
        assert_eq!(py_float("abc"), None);
        assert_eq!(py_float("inf"), None);
        assert_eq!(inner("\"ab\""), "ab");
        assert_eq!(inner("\""), "");
    }
}
