//! Properties of the metrics and statistics: invariance to key order and number spelling,
//! symmetry where it should hold, and 1.0 on identical input.

use proptest::prelude::*;
use serde_json::{Value, json};
use slm_core::ToolCall;
use slm_eval::metrics::{score_structured, score_toolcall};
use slm_eval::rng::SplitMix64;
use slm_eval::stats::{mcnemar_exact, paired_bootstrap};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-1_000_000i64..1_000_000).prop_map(|n| json!(n)),
        (-1e6f64..1e6).prop_map(|f| json!(f)),
        "[a-zA-Z0-9 _.é中\"\\\\]{0,10}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_.\\[]{1,6}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_object() -> impl Strategy<Value = Value> {
    prop::collection::btree_map("[a-z_]{1,6}", arb_json(), 0..6)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

/// Renders JSON text with object keys in a random order, whitespace, and integers spelled as
/// floats (`3` → `3.0`) where that is exact.
fn render_scrambled(value: &Value, rng: &mut SplitMix64) -> String {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            rng.shuffle(&mut entries);
            let items: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| {
                    format!(
                        "{} : {}",
                        Value::String(k.clone()),
                        render_scrambled(v, rng)
                    )
                })
                .collect();
            format!("{{ {} }}", items.join(" ,\n"))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(|v| render_scrambled(v, rng)).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Number(n) if n.is_i64() && n.as_i64().is_some_and(|i| i.abs() < 1 << 50) => {
            if rng.below(2) == 0 {
                format!("{}.0", n)
            } else {
                n.to_string()
            }
        }
        other => other.to_string(),
    }
}

fn wrappers(calls: &[ToolCall], rng: &mut SplitMix64) -> String {
    calls
        .iter()
        .map(|c| {
            format!(
                "<tool_call name=\"{}\">{}</tool_call>",
                c.name,
                render_scrambled(&c.arguments, rng)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn arb_calls() -> impl Strategy<Value = Vec<ToolCall>> {
    prop::collection::vec(("[a-c]", arb_object()), 1..4).prop_map(|calls| {
        calls
            .into_iter()
            .map(|(name, args)| ToolCall::new("", name, args))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn structured_identical_input_scores_one(value in arb_json(), seed in any::<u64>()) {
        let text = render_scrambled(&value, &mut SplitMix64::new(seed));
        let s = score_structured(&text, &value, None);
        prop_assert!(s.all_pass(), "{text} vs {value}: {s:?}");
        prop_assert_eq!(s.fields.f1(), 1.0);
        prop_assert_eq!(s.fields.precision(), 1.0);
        prop_assert_eq!(s.fields.recall(), 1.0);
    }

    #[test]
    fn structured_scores_ignore_key_order(pred in arb_json(), reference in arb_json(), seed in any::<u64>()) {
        let plain = score_structured(&pred.to_string(), &reference, None);
        let scrambled = score_structured(&render_scrambled(&pred, &mut SplitMix64::new(seed)), &reference, None);
        prop_assert_eq!(plain, scrambled);
    }

    #[test]
    fn structured_exact_match_and_f1_are_symmetric(a in arb_json(), b in arb_json()) {
        let ab = score_structured(&a.to_string(), &b, None);
        let ba = score_structured(&b.to_string(), &a, None);
        prop_assert_eq!(ab.passes.get("exact_match"), ba.passes.get("exact_match"));
        prop_assert_eq!(ab.fields.tp, ba.fields.tp);
        prop_assert_eq!(ab.fields.fp, ba.fields.fn_);
        prop_assert!((ab.fields.f1() - ba.fields.f1()).abs() < 1e-12);
    }

    #[test]
    fn toolcall_identical_input_scores_one(calls in arb_calls(), seed in any::<u64>()) {
        let mut rng = SplitMix64::new(seed);
        let mut shuffled = calls.clone();
        rng.shuffle(&mut shuffled);
        let s = score_toolcall(&wrappers(&shuffled, &mut rng), &calls);
        prop_assert!(s.all_pass(), "{s:?}");
        prop_assert_eq!(s.fields.f1(), 1.0);
    }

    #[test]
    fn toolcall_scores_ignore_call_and_key_order(pred in arb_calls(), reference in arb_calls(), seed in any::<u64>()) {
        let mut rng = SplitMix64::new(seed);
        let plain = score_toolcall(&slm_core::wire::render_tool_calls(&pred), &reference);
        let mut shuffled = pred.clone();
        rng.shuffle(&mut shuffled);
        let scrambled = score_toolcall(&wrappers(&shuffled, &mut rng), &reference);
        prop_assert_eq!(plain, scrambled);
    }

    #[test]
    fn toolcall_exact_match_and_f1_are_symmetric(a in arb_calls(), b in arb_calls()) {
        let ab = score_toolcall(&slm_core::wire::render_tool_calls(&a), &b);
        let ba = score_toolcall(&slm_core::wire::render_tool_calls(&b), &a);
        prop_assert_eq!(ab.passes.get("args_exact_match"), ba.passes.get("args_exact_match"));
        prop_assert_eq!(ab.passes.get("tool_name_accuracy"), ba.passes.get("tool_name_accuracy"));
        prop_assert_eq!((ab.fields.tp, ab.fields.fp, ab.fields.fn_), (ba.fields.tp, ba.fields.fn_, ba.fields.fp));
    }

    #[test]
    fn mcnemar_is_symmetric_and_a_probability(b in 0u64..200, c in 0u64..200) {
        let p = mcnemar_exact(b, c);
        prop_assert_eq!(p, mcnemar_exact(c, b));
        prop_assert!((0.0..=1.0).contains(&p));
    }

    #[test]
    fn bootstrap_interval_of_swapped_models_is_mirrored(
        pairs in prop::collection::vec((0u8..2, 0u8..2), 1..40),
        seed in any::<u64>(),
    ) {
        let pairs = &pairs;
        let mean_diff = |flip: bool| move |idx: &[usize]| {
            let d: f64 = idx.iter().map(|&i| {
                let (a, b) = (pairs[i].0 as f64, pairs[i].1 as f64);
                if flip { b - a } else { a - b }
            }).sum();
            Some(d / idx.len() as f64)
        };
        let ab = paired_bootstrap(pairs.len(), 300, 0.95, seed, mean_diff(false)).unwrap();
        let ba = paired_bootstrap(pairs.len(), 300, 0.95, seed, mean_diff(true)).unwrap();
        prop_assert!((ab.low + ba.high).abs() < 1e-9 && (ab.high + ba.low).abs() < 1e-9, "{ab:?} {ba:?}");
    }
}

#[test]
fn golden_integral_floats_equal_integers() {
    let s = score_structured(
        r#"{"n": 1.0, "xs": [2.0, 3]}"#,
        &json!({"xs": [2, 3.0], "n": 1}),
        None,
    );
    assert!(s.all_pass());
}

#[test]
fn golden_field_counts_on_a_known_pair() {
    let reference = json!({"tool_name": "f", "arguments": {"a": 1, "b": {"c": [1, 2]}, "d": "x"}});
    let s = score_structured(
        r#"{"tool_name": "f", "arguments": {"a": 1, "b": {"c": [1, 3]}, "e": null}}"#,
        &reference,
        None,
    );
    // reference leaves: a, b.c[0], b.c[1], d; prediction leaves: a, b.c[0], b.c[1], e.
    assert_eq!((s.fields.tp, s.fields.fp, s.fields.fn_), (2, 2, 2));
    assert_eq!(s.fields.f1(), 0.5);
    assert!(s.passes["tool_name_accuracy"]);
    assert!(!s.passes["args_exact_match"]);
}

/// Text shaped like the Java/JavaScript arguments models write, broken in every way.
fn arb_source() -> impl Strategy<Value = String> {
    prop_oneof![
        "[-0-9.eEfFlLn_ \\n]{0,12}",
        "(new (ArrayList<[A-Za-z]{0,8}>|HashMap<.{0,10}>|int\\[\\]|Array)[({ ]{0,3})?[-a-z0-9\"'(){},;:\\[\\] é中]{0,30}",
        "[\\[{(]{0,2}[-a-z0-9\"'(){},;:\\[\\] \\n é中]{0,30}",
        ".{0,40}",
    ]
}

proptest! {
    /// BFCL's Java/JavaScript converters, ported, never panic: on any text and any type they
    /// return a value, or an error where BFCL raises.
    #[test]
    fn language_converters_never_panic(text in arb_source(), pick in 0usize..40) {
        let java = ["byte", "short", "integer", "float", "double", "long", "boolean", "char",
            "Array", "ArrayList", "HashMap", "String", "any", "Set", "Queue", "nonsense"];
        let js = ["String", "integer", "float", "Bigint", "Boolean", "dict", "array", "any", "Number"];
        let nested = [None, Some("String"), Some("integer"), Some("long"), Some("char"),
            Some("dict"), Some("array"), Some("float"), Some("Set")];
        let _ = slm_eval::bfcl::java_types::convert(&text, java[pick % java.len()], nested[pick % nested.len()]);
        let _ = slm_eval::bfcl::js_types::convert(&text, js[pick % js.len()], nested[(pick / 3) % nested.len()]);
        let _ = slm_eval::bfcl::java_types::parse_value(&text);
        let _ = slm_eval::bfcl::js_types::parse_value(&text);
    }
}
