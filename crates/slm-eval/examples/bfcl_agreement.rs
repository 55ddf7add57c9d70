//! BFCL agreement check: runs the AST checker over every entry of the thirteen BFCL categories
//! this crate covers (non-live Python, Java and JavaScript; live) with calls built from the
//! answer keys (which must pass) and perturbed calls (which must fail), and reports how often
//! the verdict is the expected one. Java and JavaScript calls are written as a model writes them,
//! each argument as source text of its declared type, then edited at random as text too.
//!
//! Optional (needs the BFCL data, which tests never read):
//!
//! ```text
//! cargo run -p slm-eval --release --no-default-features --example bfcl_agreement -- \
//!     /tmp/bfcl-eval/bfcl_eval/data [--dump cases.jsonl]
//! ```
//!
//! `--dump` writes every generated case with this checker's verdict as JSONL
//! (`{"id", "category", "variant", "calls": [{"name", "arguments"}], "expected", "verdict"}`),
//! so the verdicts can be replayed through BFCL's own Python checker.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use serde_json::{Map, Value, json};
use slm_core::ToolCall;
use slm_eval::bfcl::{
    Category, Entry, ExpectedCall, Function, Language, Suite, call_from_answer, check, materialize,
    source_call,
};
use slm_eval::rng::SplitMix64;

/// One generated call list and whether it should pass by construction (`None` for random
/// mutations, whose verdict only BFCL's own checker can tell).
struct Variant {
    name: &'static str,
    calls: Vec<ToolCall>,
    should_pass: Option<bool>,
}

/// Random mutations per entry.
const MUTATIONS_PER_ENTRY: usize = 8;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "/work/shared/data/bfcl".into()),
    );
    let mut dump = None;
    while let Some(arg) = args.next() {
        if arg == "--dump" {
            dump = args.next().map(PathBuf::from);
        }
    }
    let mut dump_file = dump.map(|p| std::fs::File::create(p).expect("create the dump file"));
    let mut disagreements = Vec::new();
    println!(
        "{:<22} {:>7} {:>7} {:>9} {:>10}   (random mutations: passed/total)",
        "category", "entries", "cases", "expected", "agreement"
    );
    for category in Category::ALL {
        let suite = match Suite::load(&dir, category) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("skipping {category}: {e}");
                continue;
            }
        };
        let (mut cases, mut agree, mut unjudged) = (0usize, 0usize, 0usize);
        let mut by_variant: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for entry in &suite.entries {
            let expected: &[ExpectedCall] = suite
                .answers
                .get(&entry.id)
                .map(|a| a.ground_truth.as_slice())
                .unwrap_or(&[]);
            for variant in variants(category, entry, expected) {
                let verdict = check(category, &entry.function, expected, &variant.calls);
                let passed = verdict.is_ok();
                cases += 1;
                let slot = by_variant.entry(variant.name).or_default();
                slot.0 += 1;
                match variant.should_pass {
                    Some(expected) if expected == passed => {
                        agree += 1;
                        slot.1 += 1;
                    }
                    Some(expected) => disagreements.push(format!(
                        "{} {}: expected {}, got {:?}",
                        entry.id,
                        variant.name,
                        if expected { "pass" } else { "fail" },
                        verdict
                    )),
                    None => {
                        // Random mutations: count passes (BFCL's checker decides agreement).
                        unjudged += 1;
                        slot.1 += usize::from(passed);
                    }
                }
                if let Some(file) = dump_file.as_mut() {
                    let calls: Vec<Value> = variant
                        .calls
                        .iter()
                        .map(|c| json!({"name": c.name, "arguments": c.arguments}))
                        .collect();
                    let row = json!({
                        "id": entry.id, "category": category.name(), "variant": variant.name,
                        "calls": calls, "expected": variant.should_pass, "verdict": passed,
                    });
                    writeln!(file, "{row}").expect("write the dump");
                }
            }
        }
        let constructed = cases - unjudged;
        println!(
            "{:<22} {:>7} {:>7} {:>9} {:>9.2}%",
            category.name(),
            suite.entries.len(),
            cases,
            agree,
            100.0 * agree as f64 / constructed.max(1) as f64
        );
        for (name, (n, ok)) in by_variant {
            println!("    {name:<22} {ok:>5}/{n:<5}");
        }
    }
    println!(
        "\ncases whose verdict differs from the construction's expectation: {}",
        disagreements.len()
    );
    for d in &disagreements {
        println!("  {d}");
    }
}

/// Calls built from the answer key, and perturbations of them.
fn variants(category: Category, entry: &Entry, expected: &[ExpectedCall]) -> Vec<Variant> {
    let language = category.language();
    let mut out = python_variants(category, entry, expected);
    if language == Language::Python {
        return out;
    }
    // A value of another JSON type is still text once written as source: BFCL decides.
    for variant in &mut out {
        if variant.name == "wrong_type" {
            variant.should_pass = None;
        }
    }
    // A model of a Java/JavaScript category writes every argument as source text.
    let mut rng = SplitMix64::new(fingerprint(&entry.id) ^ 0x5eed);
    for variant in &mut out {
        variant.calls = variant
            .calls
            .iter()
            .map(|c| source_call(c, &entry.function, language))
            .collect();
        if variant.should_pass.is_none() {
            for call in &mut variant.calls {
                if let Some(args) = call.arguments.as_object_mut() {
                    for value in args.values_mut() {
                        if let Value::String(text) = value {
                            *text = edit_source(text, &mut rng);
                        }
                    }
                }
            }
        }
    }
    // An argument that is not a string at all.
    let truth: Vec<ToolCall> = expected
        .iter()
        .map(|e| source_call(&call_from_answer(e, false), &entry.function, language))
        .collect();
    if let Some((param, _)) = truth.first().and_then(first_param) {
        let mut wrong = truth.clone();
        wrong[0].arguments[&param] = json!(1);
        out.push(Variant {
            name: "non_string_argument",
            calls: wrong,
            should_pass: Some(false),
        });
    }
    out
}

/// Java/JavaScript source text with an edit BFCL's converters may or may not forgive.
fn edit_source(text: &str, rng: &mut SplitMix64) -> String {
    if rng.below(3) != 0 {
        return text.to_string();
    }
    let mut chars: Vec<char> = text.chars().collect();
    match rng.below(9) {
        7 => text
            .replace("(Arrays.asList(", "() {{ add(")
            .replace("))", "); }}"),
        8 => text.replace("new HashMap<String, Object>()", "new HashMap<>()"),
        0 => {
            chars.pop();
            chars.into_iter().collect()
        }
        1 => format!("\"{text}\""),
        2 => format!("'{text}'"),
        3 => text.replace(", ", ","),
        4 => format!(" {text} "),
        5 => text.to_uppercase(),
        _ => text.replace('"', "'"),
    }
}

/// Calls with answer-key (Python) values.
fn python_variants(category: Category, entry: &Entry, expected: &[ExpectedCall]) -> Vec<Variant> {
    if category == Category::LiveRelevance {
        let first = entry
            .function
            .first()
            .map(|f| f.name.clone())
            .unwrap_or_default();
        return vec![
            Variant {
                name: "no_call",
                calls: vec![],
                should_pass: Some(false),
            },
            Variant {
                name: "any_call",
                calls: vec![ToolCall::new("", first, json!({}))],
                should_pass: Some(true),
            },
        ];
    }
    if !category.has_answer_key() {
        let first = entry
            .function
            .first()
            .map(|f| f.name.clone())
            .unwrap_or_default();
        return vec![
            Variant {
                name: "no_call",
                calls: vec![],
                should_pass: Some(true),
            },
            Variant {
                name: "any_call",
                calls: vec![ToolCall::new("", first, json!({}))],
                should_pass: Some(false),
            },
        ];
    }
    let truth: Vec<ToolCall> = expected
        .iter()
        .map(|e| call_from_answer(e, false))
        .collect();
    let minimal: Vec<ToolCall> = expected.iter().map(|e| call_from_answer(e, true)).collect();
    let mut out = vec![
        Variant {
            name: "truth_all_params",
            calls: truth.clone(),
            should_pass: Some(true),
        },
        Variant {
            name: "truth_minimal",
            calls: minimal,
            should_pass: Some(true),
        },
    ];
    if truth.len() > 1 {
        let mut reversed = truth.clone();
        reversed.reverse();
        out.push(Variant {
            name: "truth_reversed",
            calls: reversed,
            should_pass: Some(true),
        });
        out.push(Variant {
            name: "missing_call",
            calls: truth[1..].to_vec(),
            should_pass: Some(false),
        });
    }
    let mut extra = truth.clone();
    extra.push(truth[0].clone());
    out.push(Variant {
        name: "extra_call",
        calls: extra,
        should_pass: Some(false),
    });

    let mut renamed = truth.clone();
    renamed[0].name.push_str("_renamed");
    out.push(Variant {
        name: "wrong_name",
        calls: renamed,
        should_pass: Some(false),
    });

    let mut unknown = truth.clone();
    if let Some(args) = unknown[0].arguments.as_object_mut() {
        args.insert("zz_unknown_param".into(), json!(1));
    }
    out.push(Variant {
        name: "unknown_param",
        calls: unknown,
        should_pass: Some(false),
    });

    let function = entry.function.iter().find(|f| f.name == truth[0].name);
    if let Some(required) = function.and_then(|f| first_required(f, &truth[0])) {
        let mut missing = truth.clone();
        if let Some(args) = missing[0].arguments.as_object_mut() {
            args.remove(&required);
        }
        out.push(Variant {
            name: "missing_required",
            calls: missing,
            should_pass: Some(false),
        });
    }
    if let Some((param, value)) = first_param(&truth[0]) {
        let mut wrong = truth.clone();
        wrong[0].arguments[&param] = unacceptable_value(&value);
        out.push(Variant {
            name: "wrong_value",
            calls: wrong,
            should_pass: Some(false),
        });
        if let Some(retyped) = retyped_value(&value) {
            let mut wrong = truth.clone();
            wrong[0].arguments[&param] = retyped;
            out.push(Variant {
                name: "wrong_type",
                calls: wrong,
                should_pass: Some(false),
            });
        }
    }
    let mut rng = SplitMix64::new(fingerprint(&entry.id));
    for _ in 0..MUTATIONS_PER_ENTRY {
        out.push(Variant {
            name: "random_mutation",
            calls: mutate(expected, &mut rng),
            should_pass: None,
        });
    }
    out
}

fn fingerprint(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// A call list drawn from the answer key with random changes: any acceptable value or an
/// omission per parameter, then a few edits that BFCL's rules may or may not forgive (case and
/// punctuation in strings, `3` vs `3.0`, off-by-one numbers, reordered lists, flipped booleans,
/// dropped parameters, shuffled calls).
fn mutate(expected: &[ExpectedCall], rng: &mut SplitMix64) -> Vec<ToolCall> {
    let mut calls: Vec<ToolCall> = expected
        .iter()
        .map(|e| {
            let (name, params) = e.iter().next().expect("one function per expected call");
            let mut args = Map::new();
            for (param, acceptable) in params.as_object().into_iter().flatten() {
                let values = acceptable.as_array().cloned().unwrap_or_default();
                if values.is_empty() {
                    continue;
                }
                let pick = values[rng.below(values.len())].clone();
                if pick == "" {
                    continue;
                }
                args.insert(param.clone(), edit(materialize(pick), rng));
            }
            ToolCall::new("", name.clone(), Value::Object(args))
        })
        .collect();
    rng.shuffle(&mut calls);
    calls
}

fn edit(value: Value, rng: &mut SplitMix64) -> Value {
    // Most values are left alone so that whole calls still pass often.
    if rng.below(3) != 0 {
        return value;
    }
    match value {
        Value::String(s) => match rng.below(4) {
            0 => json!(s.to_uppercase()),
            1 => json!(format!("{}.", s.replace(' ', "_"))),
            2 => json!(s.replace('\'', "\"")),
            _ => json!(format!("{s}x")),
        },
        Value::Number(n) if n.is_f64() => match rng.below(2) {
            0 => {
                let f = n.as_f64().unwrap_or(0.0);
                if f.fract() == 0.0 && f.abs() < 1e15 {
                    json!(f as i64)
                } else {
                    json!(f + 1.0)
                }
            }
            _ => json!(n.as_f64().unwrap_or(0.0) + 1.0),
        },
        Value::Number(n) => match rng.below(2) {
            0 => json!(n.as_i64().unwrap_or(0) as f64),
            _ => json!(n.as_i64().unwrap_or(0) + 1),
        },
        Value::Bool(b) => json!(!b),
        Value::Array(mut items) => {
            items.reverse();
            Value::Array(items)
        }
        Value::Object(mut map) => {
            if let Some(key) = map.keys().next().cloned() {
                map.remove(&key);
            }
            Value::Object(map)
        }
        Value::Null => json!(0),
    }
}

fn first_required(function: &Function, call: &ToolCall) -> Option<String> {
    function.parameters["required"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .find(|p| call.arguments.get(*p).is_some())
        .map(str::to_string)
}

fn first_param(call: &ToolCall) -> Option<(String, Value)> {
    call.arguments
        .as_object()?
        .iter()
        .next()
        .map(|(k, v)| (k.clone(), v.clone()))
}

/// A value of the same type that no answer key accepts.
fn unacceptable_value(value: &Value) -> Value {
    match value {
        Value::String(s) => json!(format!("{s} zzunacceptable")),
        Value::Number(n) if n.is_f64() => json!(n.as_f64().unwrap_or(0.0) + 1000.5),
        Value::Number(n) => json!(n.as_i64().unwrap_or(0) + 100_003),
        Value::Bool(_) => json!("not a boolean zz"),
        Value::Array(items) => {
            let mut items = items.clone();
            items.push(json!("zzunacceptable"));
            Value::Array(items)
        }
        Value::Object(map) => {
            let mut map = map.clone();
            map.insert("zz_unacceptable_key".into(), json!(1));
            Value::Object(map)
        }
        Value::Null => json!("zzunacceptable"),
    }
}

/// The same content with another JSON type (a number as a string, a string as a number...).
fn retyped_value(value: &Value) -> Option<Value> {
    match value {
        Value::Number(n) => Some(json!(n.to_string())),
        Value::String(_) => Some(json!(123_457)),
        Value::Bool(b) => Some(json!(if *b { "true" } else { "false" })),
        Value::Array(items) => Some(json!(format!("{items:?}"))),
        _ => None,
    }
}
