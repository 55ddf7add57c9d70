//! Differential check of the ports of BFCL's Java and JavaScript value converters: reads the
//! cases `examples/bfcl_converters.py` writes (argument text, type, nested type, and the value
//! BFCL's own converter gives or the exception it raises) and reports how many convert to the
//! same value here (numbers must match in kind too: `1` is not `1.0`).
//!
//! ```text
//! python3 crates/slm-eval/examples/bfcl_converters.py <bfcl_eval>/eval_checker/ast_eval/ast_checker.py /tmp/conv.jsonl
//! cargo run -p slm-eval --release --no-default-features --example bfcl_converters -- /tmp/conv.jsonl
//! ```

use serde_json::Value;
use slm_eval::bfcl::{java_types, js_types};

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/conv.jsonl".into());
    let text = std::fs::read_to_string(&path).expect("read the cases");
    let (mut total, mut same, mut skipped) = (0usize, 0usize, 0usize);
    for line in text.lines() {
        let row: Value = serde_json::from_str(line).expect("a JSON row");
        if row.to_string().contains("nonfinite") {
            // inf/nan: JSON cannot hold them (a documented deviation).
            skipped += 1;
            continue;
        }
        let source = row["text"].as_str().unwrap_or_default();
        let kind = row["type"].as_str().unwrap_or_default();
        let nested = row["nested"].as_str();
        let ours = if row["lang"] == "java" {
            java_types::convert(source, kind, nested)
        } else {
            js_types::convert(source, kind, nested)
        };
        total += 1;
        let agrees = match (&ours, row.get("ok")) {
            (Ok(value), Some(bfcl)) => value == bfcl,
            (Err(_), None) => true,
            _ => false,
        };
        if agrees {
            same += 1;
        } else if total - same <= 20 {
            println!(
                "differs: {} {kind} {nested:?} {source:?}: ours {ours:?}, BFCL {}",
                row["lang"],
                row.get("ok").unwrap_or(&row["err"])
            );
        }
    }
    println!("{same}/{total} converted as BFCL converts them ({skipped} non-finite skipped)");
}
