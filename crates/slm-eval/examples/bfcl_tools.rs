//! Dumps every entry's functions as this crate sends them to a function-calling model
//! ([`Function::presented`](slm_eval::bfcl::Function::presented), then
//! [`to_tool_spec`](slm_eval::bfcl::Function::to_tool_spec)), one JSON row per entry, for
//! `examples/bfcl_tools.py` to compare with what BFCL's own preprocessing makes of them.
//!
//! ```text
//! cargo run -p slm-eval --release --no-default-features --example bfcl_tools -- /tmp/bfcl-eval/bfcl_eval/data > /tmp/tools.jsonl
//! python3 crates/slm-eval/examples/bfcl_tools.py /tmp/bfcl-eval/bfcl_eval /tmp/tools.jsonl
//! ```

use serde_json::json;
use slm_eval::bfcl::{Category, Suite};

fn main() {
    let dir = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "/tmp/bfcl-eval/bfcl_eval/data".into()),
    );
    for category in Category::ALL {
        let Ok(suite) = Suite::load(&dir, category) else {
            eprintln!("skipping {category}: no data");
            continue;
        };
        for entry in &suite.entries {
            let tools: Vec<_> = entry
                .function
                .iter()
                .map(|f| {
                    let spec = f.presented(category.language()).to_tool_spec();
                    json!({"name": spec.name, "description": spec.description, "parameters": spec.parameters})
                })
                .collect();
            println!("{}", json!({"id": entry.id, "tools": tools}));
        }
    }
}
