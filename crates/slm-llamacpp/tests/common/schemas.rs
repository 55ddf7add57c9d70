//! The generated JSON-schema set shared by the structured-output tests (generated and real
//! models), and the check every constrained answer must pass.

use serde_json::{Map, Value, json};

/// A small deterministic generator (xorshift), so the schema set is the same on every run.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// One schema of the kinds the SLM Swap evaluation uses: objects, nested objects, bounded
/// arrays, enums, const, numbers with ranges, required/optional properties, anyOf and
/// `$defs`/`$ref`.
pub fn schema(rng: &mut Rng, depth: u32, defs: &mut Map<String, Value>) -> Value {
    let kinds = if depth == 0 { 7 } else { 11 };
    match rng.below(kinds) {
        0 => json!({"type": "string", "minLength": rng.below(2), "maxLength": 2 + rng.below(8)}),
        1 => {
            let lo = rng.below(200) as i64 - 100;
            json!({"type": "integer", "minimum": lo, "maximum": lo + rng.below(1000) as i64})
        }
        // Floats from a set: an open-ended fraction could run on for ever with random weights.
        2 => json!({"type": "number", "enum": [0.5, -2.25, 100.0]}),
        3 => json!({"type": "boolean"}),
        4 => {
            let values = [
                json!("red"),
                json!("green"),
                json!("blue"),
                json!(7),
                Value::Null,
            ];
            json!({"enum": values[..2 + rng.below(4) as usize]})
        }
        5 => [
            json!({"const": "fixed"}),
            json!({"const": 42}),
            json!({"const": {"k": [1, 2]}}),
        ][rng.below(3) as usize]
            .clone(),
        6 => json!({"type": "null"}),
        7 => {
            let min = rng.below(3);
            json!({"type": "array", "items": schema(rng, depth - 1, defs),
                   "minItems": min, "maxItems": min + rng.below(3)})
        }
        8 => object(rng, depth - 1, defs),
        9 => json!({"anyOf": [schema(rng, depth - 1, defs), schema(rng, depth - 1, defs)]}),
        _ => {
            let name = format!("def{}", defs.len());
            defs.insert(name.clone(), Value::Null); // reserve the name
            let def = schema(rng, depth - 1, defs);
            defs.insert(name.clone(), def);
            json!({"$ref": format!("#/$defs/{name}")})
        }
    }
}

pub fn object(rng: &mut Rng, depth: u32, defs: &mut Map<String, Value>) -> Value {
    let n = 1 + rng.below(4);
    let mut properties = Map::new();
    let mut required = Vec::new();
    for i in 0..n {
        let key = format!("field_{i}");
        properties.insert(key.clone(), schema(rng, depth, defs));
        if rng.chance(60) {
            required.push(key);
        }
    }
    json!({"type": "object", "properties": properties, "required": required,
           "additionalProperties": false})
}

/// The generated schema set: top-level objects of depth up to 2.
pub fn schema_set(n: usize) -> Vec<Value> {
    let mut rng = Rng(0x5eed_0002);
    (0..n)
        .map(|_| {
            let mut defs = Map::new();
            let mut s = object(&mut rng, 2, &mut defs);
            if !defs.is_empty() {
                s["$defs"] = Value::Object(defs);
            }
            s
        })
        .collect()
}

/// Asserts that `text` is JSON that validates against `schema`, with no U+FFFD.
pub fn assert_valid(schema: &Value, text: &str, what: &str) {
    let value: Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {text:?}\nschema {schema}"));
    let validator = jsonschema::validator_for(schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: {errors:?}\n{text}\nschema {schema}"
    );
    assert!(
        !text.contains('\u{FFFD}'),
        "{what}: invalid UTF-8 in {text:?}"
    );
}
