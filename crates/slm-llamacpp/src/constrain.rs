//! Constrained decoding: JSON schemas, GBNF grammars and forced tool calls become token masks.
//!
//! Two compilers are available for JSON schemas ([`SchemaBackend`]): llguidance (default; wider
//! schema coverage and masks in microseconds) and llama.cpp's `json_schema_to_grammar` + GBNF
//! sampler. GBNF grammars always go to llama.cpp's grammar sampler; tool-call grammars (Lark with
//! embedded JSON schemas) always to llguidance.
//!
//! Sampling follows llama.cpp's common sampler: the sampler chain picks a token from the free
//! distribution first, and the mask is computed only when the constraint rejects that token, so
//! a large vocabulary does not pay the mask on every step.

use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;
use llguidance::api::TopLevelGrammar;
use llguidance::{Matcher, ParserFactory};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::LlamaCppError;
use crate::utf8_guard::{TokenBytes, Utf8Guard};

/// Which compiler turns JSON schemas into token masks.
///
/// Both write object properties in a fixed order: llguidance in the schema's `properties`
/// order, llama.cpp's converter required properties first, then the optional ones. Schemas
/// with keywords llama.cpp's converter would silently drop (`minProperties`, `pattern`s it
/// cannot translate, bounds on non-integers, ...) are refused with [`LlamaCppError::Schema`]
/// rather than decoded without them. BENCHMARKS.md has both backends' coverage of MaskBench's
/// real-world schemas.
///
/// ```
/// assert_eq!(slm_llamacpp::SchemaBackend::default(), slm_llamacpp::SchemaBackend::Llguidance);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SchemaBackend {
    /// llguidance: the broadest JSON-schema coverage and the fastest masks.
    #[default]
    Llguidance,
    /// llama.cpp's `json_schema_to_grammar` and GBNF grammar sampler.
    LlamaCpp,
}

/// How far a constraint lets the model write a given text (see
/// [`LlamaCppModel::check_constraint`](crate::LlamaCppModel::check_constraint)).
///
/// ```
/// let check = slm_llamacpp::ConstraintCheck { valid_up_to: 7, complete: false };
/// assert!(!check.accepted());
/// assert!(check.is_prefix_of(7));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConstraintCheck {
    /// Bytes of the text the constraint allowed before rejecting a token (the whole length
    /// when it allowed every token).
    pub valid_up_to: usize,
    /// Every token was allowed and the answer may end after the last one.
    pub complete: bool,
}

impl ConstraintCheck {
    /// Whether the text is a whole answer the constraint allows.
    ///
    /// ```
    /// let check = slm_llamacpp::ConstraintCheck { valid_up_to: 3, complete: true };
    /// assert!(check.accepted());
    /// ```
    pub fn accepted(&self) -> bool {
        self.complete
    }

    /// Whether every token of a text of `len` bytes was allowed, though the answer might have
    /// to go on (MaskBench's notion of an accepted instance).
    ///
    /// ```
    /// let check = slm_llamacpp::ConstraintCheck { valid_up_to: 5, complete: false };
    /// assert!(check.is_prefix_of(5) && !check.is_prefix_of(6));
    /// ```
    pub fn is_prefix_of(&self, len: usize) -> bool {
        self.valid_up_to == len
    }
}

/// What a request's output must match, before compilation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ConstraintSpec {
    /// JSON validating against a schema.
    JsonSchema(Value),
    /// A GBNF grammar with a `root` rule.
    Gbnf(String),
    /// A llguidance Lark grammar (tool calls).
    Lark(String),
}

/// Compiles constraints for one model; caches llguidance's tokenizer tables.
#[derive(Default)]
pub(crate) struct Compiler {
    factory: Option<ParserFactory>,
    token_bytes: Option<std::sync::Arc<TokenBytes>>,
}

impl Compiler {
    pub(crate) fn compile(
        &mut self,
        model: &LlamaModel,
        spec: &ConstraintSpec,
        backend: SchemaBackend,
    ) -> Result<Constraint, LlamaCppError> {
        match (spec, backend) {
            (ConstraintSpec::JsonSchema(schema), SchemaBackend::Llguidance) => self.llguidance(
                model,
                TopLevelGrammar::from_json_schema(crate::tools::with_compact_json(schema)),
                LlamaCppError::Schema,
            ),
            (ConstraintSpec::JsonSchema(schema), SchemaBackend::LlamaCpp) => {
                check_llama_cpp_schema(schema, schema, "#").map_err(LlamaCppError::Schema)?;
                let gbnf = llama_cpp_2::json_schema_to_grammar(&schema.to_string())
                    .map_err(|e| LlamaCppError::Schema(format!("llama.cpp's converter: {e}")))?;
                self.gbnf(model, &gbnf)
                    .map_err(|e| LlamaCppError::Schema(format!("converted grammar: {e}")))
            }
            (ConstraintSpec::Gbnf(gbnf), _) => self.gbnf(model, gbnf),
            (ConstraintSpec::Lark(lark), _) => self.llguidance(
                model,
                TopLevelGrammar::from_lark(lark.clone()),
                LlamaCppError::Grammar,
            ),
        }
    }

    fn llguidance(
        &mut self,
        model: &LlamaModel,
        grammar: TopLevelGrammar,
        error: fn(String) -> LlamaCppError,
    ) -> Result<Constraint, LlamaCppError> {
        if self.factory.is_none() {
            let env = LlamaSampler::llguidance_tok_env(model);
            let mut factory = ParserFactory::new_simple(&env)
                .map_err(|e| LlamaCppError::Grammar(format!("llguidance setup: {e}")))?;
            factory.quiet();
            self.factory = Some(factory);
        }
        let factory = self.factory.as_ref().expect("just built");
        let parser = factory
            .create_parser(grammar)
            .map_err(|e| error(llguidance_message(&e.to_string())))?;
        let matcher = Matcher::new(Ok(parser));
        if let Some(e) = matcher.get_error() {
            return Err(error(llguidance_message(&e)));
        }
        Ok(Constraint::Llguidance(Box::new(matcher)))
    }

    fn gbnf(&mut self, model: &LlamaModel, gbnf: &str) -> Result<Constraint, LlamaCppError> {
        if !gbnf.contains("root") {
            return Err(LlamaCppError::Grammar(
                "the grammar has no `root` rule".into(),
            ));
        }
        let grammar = LlamaSampler::grammar(model, gbnf, "root")
            .map_err(|e| LlamaCppError::Grammar(format!("llama.cpp rejected the grammar: {e}")))?;
        let tokens = self
            .token_bytes
            .get_or_insert_with(|| TokenBytes::of(model))
            .clone();
        Ok(Constraint::Gbnf {
            grammar,
            utf8: Utf8Guard::new(tokens),
        })
    }
}

/// llama.cpp's converter silently ignores keywords it does not know (and `minimum`/`maximum`
/// on non-integers), which would give unconstrained output: refuse such schemas instead.
fn check_llama_cpp_schema(root: &Value, schema: &Value, path: &str) -> Result<(), String> {
    const ANNOTATIONS: &[&str] = &[
        "$schema",
        "$id",
        "$comment",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
    ];
    const ENFORCED: &[&str] = &[
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "prefixItems",
        "minItems",
        "maxItems",
        "minLength",
        "maxLength",
        "pattern",
        "enum",
        "const",
        "anyOf",
        "allOf",
        "$ref",
        "$defs",
        "definitions",
        "format",
    ];
    const INTEGER_BOUNDS: &[&str] = &["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"];
    let object = match schema {
        Value::Bool(_) => return Ok(()),
        Value::Object(o) => o,
        _ => return Err(format!("{path}: a schema must be an object")),
    };
    let is_integer = object.get("type").and_then(Value::as_str) == Some("integer");
    // The converter drops required names that `properties` does not declare.
    if let Some(required) = object.get("required").and_then(Value::as_array) {
        let declared = object.get("properties").and_then(Value::as_object);
        for name in required.iter().filter_map(Value::as_str) {
            if !declared.is_some_and(|p| p.contains_key(name)) {
                return Err(format!(
                    "{path}/required: llama.cpp's converter ignores required {name:?}, which `properties` does not declare (use SchemaBackend::Llguidance)"
                ));
            }
        }
    }
    // The converter honours one string rule: a pattern, else a format, else the length bounds.
    let string_rules = ["pattern", "format", "minLength|maxLength"];
    let present: Vec<&str> = string_rules
        .iter()
        .copied()
        .filter(|rule| rule.split('|').any(|k| object.contains_key(k)))
        .collect();
    if present.len() > 1 {
        return Err(format!(
            "{path}: llama.cpp's converter enforces only one of {} on a string (use SchemaBackend::Llguidance)",
            present.join(", ")
        ));
    }
    for (key, value) in object {
        let here = format!("{path}/{key}");
        let known = ANNOTATIONS.contains(&key.as_str())
            || ENFORCED.contains(&key.as_str())
            || (is_integer && INTEGER_BOUNDS.contains(&key.as_str()));
        if !known {
            return Err(format!(
                "{here}: llama.cpp's converter does not enforce `{key}` here (use SchemaBackend::Llguidance)"
            ));
        }
        if key == "pattern" {
            let pattern = value.as_str().unwrap_or_default();
            if pattern_may_break_json_string(pattern) {
                return Err(format!(
                    "{here}: llama.cpp's converter would let the pattern {pattern:?} write a raw `\"` or `\\` inside the JSON string (use SchemaBackend::Llguidance)"
                ));
            }
            if !llama_cpp_enforces_pattern(pattern) {
                return Err(format!(
                    "{here}: llama.cpp's converter cannot turn the pattern {pattern:?} into a grammar (it would accept any string; use SchemaBackend::Llguidance)"
                ));
            }
        }
        if key == "format" {
            let f = value.as_str().unwrap_or_default();
            if matches!(f, "date" | "date-time") {
                return Err(format!(
                    "{here}: llama.cpp's converter's {f} grammar allows days a month does not have (2024-02-30; use SchemaBackend::Llguidance)"
                ));
            }
            if f != "time" && !f.starts_with("uuid") {
                return Err(format!(
                    "{here}: llama.cpp's converter does not enforce format {f:?}"
                ));
            }
        }
        if matches!(key.as_str(), "enum" | "const") {
            let values: Vec<&Value> = match value {
                Value::Array(values) if key == "enum" => values.iter().collect(),
                other => vec![other],
            };
            if let Some(wrong) = values.iter().find(|v| !matches_declared_type(object, v)) {
                return Err(format!(
                    "{here}: llama.cpp's converter would write {wrong}, which `type` does not allow (use SchemaBackend::Llguidance)"
                ));
            }
        }
        match key.as_str() {
            "properties" | "$defs" | "definitions" => {
                for (name, sub) in value.as_object().into_iter().flatten() {
                    check_llama_cpp_schema(root, sub, &format!("{here}/{name}"))?;
                }
            }
            "anyOf" | "allOf" | "prefixItems" => {
                if key == "allOf" {
                    check_all_of_parts(root, value, &here)?;
                }
                for (i, sub) in value.as_array().into_iter().flatten().enumerate() {
                    check_llama_cpp_schema(root, sub, &format!("{here}/{i}"))?;
                }
            }
            "items" | "additionalProperties" => check_llama_cpp_schema(root, value, &here)?,
            _ => {}
        }
    }
    Ok(())
}

/// llama.cpp's converter merges the parts of an `allOf` into one object: it keeps their
/// properties (all made required) and enum values and drops every other keyword, and it
/// inlines a part's `$ref` without the guard it puts on other references, so a recursive
/// definition reached through `allOf` recurses until the stack overflows (a process abort).
/// Allow only parts that are objects or enums, and no `$ref` part that can reach itself.
fn check_all_of_parts(root: &Value, parts: &Value, path: &str) -> Result<(), String> {
    for (i, part) in parts.as_array().into_iter().flatten().enumerate() {
        let here = format!("{path}/{i}");
        let mut resolved = part;
        while let Some(reference) = resolved.get("$ref").and_then(Value::as_str) {
            if reaches_itself(root, reference) {
                return Err(format!(
                    "{here}: `allOf` over the recursive definition {reference} (llama.cpp's converter would recurse without end; use SchemaBackend::Llguidance)"
                ));
            }
            resolved = resolve_ref(root, reference)
                .ok_or_else(|| format!("{here}: unresolved $ref {reference}"))?;
        }
        let object_or_enum = resolved.get("properties").is_some()
            || resolved.get("enum").is_some()
            || resolved.get("type").and_then(Value::as_str) == Some("object");
        let combines = ["anyOf", "oneOf", "allOf"]
            .iter()
            .any(|k| resolved.get(k).is_some());
        if !object_or_enum || combines {
            return Err(format!(
                "{here}: llama.cpp's converter keeps only the properties and enum values of `allOf` parts (use SchemaBackend::Llguidance)"
            ));
        }
    }
    Ok(())
}

/// A local `$ref` (`#/$defs/x`) inside `root`.
fn resolve_ref<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    match reference.strip_prefix('#')? {
        "" => Some(root),
        pointer => root.pointer(pointer),
    }
}

/// Whether the definition `reference` points at can reach `reference` again through `$ref`s.
fn reaches_itself(root: &Value, reference: &str) -> bool {
    let mut seen = std::collections::HashSet::new();
    let mut stack: Vec<&Value> = resolve_ref(root, reference).into_iter().collect();
    while let Some(node) = stack.pop() {
        match node {
            Value::Object(o) => {
                if let Some(next) = o.get("$ref").and_then(Value::as_str) {
                    if next == reference {
                        return true;
                    }
                    if seen.insert(next) {
                        stack.extend(resolve_ref(root, next));
                    }
                }
                stack.extend(o.values());
            }
            Value::Array(a) => stack.extend(a.iter()),
            _ => {}
        }
    }
    false
}

/// Whether `value` has a type the schema's `type` (a name or a list of names) allows. llama.cpp's
/// converter writes `enum` and `const` values as they are, without the `type` beside them.
fn matches_declared_type(schema: &serde_json::Map<String, Value>, value: &Value) -> bool {
    let allowed: Vec<&str> = match schema.get("type") {
        None => return true,
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        Some(_) => return false,
    };
    allowed.iter().any(|&t| match t {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    })
}

/// Whether a string matching `pattern` may contain `"` or `\`. llama.cpp's converter puts the
/// pattern's characters into the JSON string unescaped, so `.`, negated classes, `\S`, `\W`,
/// `\D` or a literal quote would let the model end the string early or break the JSON.
fn pattern_may_break_json_string(pattern: &str) -> bool {
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if matches!(chars.next(), Some('S' | 'W' | 'D' | '\\' | '"') | None) {
                    return true;
                }
            }
            '"' => return true,
            '[' if !in_class => {
                in_class = true;
                if chars.peek() == Some(&'^') {
                    return true;
                }
            }
            ']' => in_class = false,
            '.' if !in_class => return true,
            _ => {}
        }
    }
    false
}

/// Whether llama.cpp's converter turns `pattern` into a grammar. Patterns it cannot translate
/// (not anchored with `^…$`, escapes like `\\d` inside a class, ...) become its plain `string`
/// rule with only a warning on stderr, so this converts the pattern alone and looks for that.
/// (A unit test pins this to the vendored llama.cpp's output.)
fn llama_cpp_enforces_pattern(pattern: &str) -> bool {
    if pattern.len() < 2 || !pattern.starts_with('^') || !pattern.ends_with('$') {
        return false;
    }
    let schema = serde_json::json!({"type": "string", "pattern": pattern});
    llama_cpp_2::json_schema_to_grammar(&schema.to_string())
        .is_ok_and(|gbnf| !gbnf.lines().any(|line| line == "root ::= string"))
}

/// llguidance's error text without the parser-state dump it appends (tokens so far, lexer
/// statistics, the grammar): that can run to kilobytes and may quote the answer.
fn llguidance_message(error: &str) -> String {
    error
        .split("\n<state>")
        .next()
        .unwrap_or(error)
        .trim()
        .to_string()
}

/// A compiled constraint with its parser state for one sequence.
pub(crate) enum Constraint {
    Llguidance(Box<Matcher>),
    Gbnf {
        grammar: LlamaSampler,
        /// llama.cpp's grammar sampler lets invalid UTF-8 through; this does not.
        utf8: Utf8Guard,
    },
}

impl Constraint {
    /// Whether `token` may come next (without advancing).
    pub(crate) fn allows(&mut self, token: LlamaToken, logit: f32) -> bool {
        match self {
            Constraint::Llguidance(m) => m.validate_tokens(&[token.0 as u32]).is_ok_and(|n| n == 1),
            Constraint::Gbnf { grammar, utf8 } => {
                if !utf8.allows(token) {
                    return false;
                }
                let mut one =
                    LlamaTokenDataArray::new(vec![LlamaTokenData::new(token, logit, 0.0)], false);
                one.apply_sampler(grammar);
                one.data[0].logit().is_finite()
            }
        }
    }

    /// Sets the logit of every token the constraint forbids to -inf. `candidates` holds the
    /// whole vocabulary in id order.
    pub(crate) fn mask(
        &mut self,
        candidates: &mut LlamaTokenDataArray,
    ) -> Result<(), LlamaCppError> {
        match self {
            Constraint::Llguidance(m) => {
                let mask = m.compute_mask().map_err(|e| {
                    LlamaCppError::Grammar(format!(
                        "llguidance: {}",
                        llguidance_message(&e.to_string())
                    ))
                })?;
                for d in &mut candidates.data {
                    if !mask.is_allowed(d.id().0 as u32) {
                        d.set_logit(f32::NEG_INFINITY);
                    }
                }
            }
            Constraint::Gbnf { grammar, utf8 } => {
                utf8.mask(candidates);
                candidates.apply_sampler(grammar);
            }
        }
        Ok(())
    }

    /// Advances the constraint past `token`.
    pub(crate) fn accept(&mut self, token: LlamaToken) -> Result<(), LlamaCppError> {
        match self {
            Constraint::Llguidance(m) => m.consume_token(token.0 as u32).map_err(|e| {
                LlamaCppError::Grammar(format!(
                    "llguidance: {}",
                    llguidance_message(&e.to_string())
                ))
            }),
            Constraint::Gbnf { grammar, utf8 } => {
                utf8.accept(token);
                grammar
                    .try_accept(token)
                    .map_err(|e| LlamaCppError::Grammar(format!("grammar rejected a token: {e}")))
            }
        }
    }

    /// Whether the answer may end here (`end` is the model's end-of-generation token).
    pub(crate) fn allows_end(&mut self, end: LlamaToken) -> bool {
        match self {
            Constraint::Llguidance(m) => m.is_stopped() || m.is_accepting().unwrap_or(false),
            Constraint::Gbnf { .. } => self.allows(end, 0.0),
        }
    }

    /// Feeds the tokens of a text (`pieces`: each token's bytes) through the constraint, as
    /// decoding would. Consumes the constraint's state.
    pub(crate) fn check(
        &mut self,
        tokens: &[LlamaToken],
        pieces: &[Vec<u8>],
        end: LlamaToken,
    ) -> ConstraintCheck {
        let mut valid_up_to = 0;
        for (&token, piece) in tokens.iter().zip(pieces) {
            if !self.allows(token, 0.0) || self.accept(token).is_err() {
                return ConstraintCheck {
                    valid_up_to,
                    complete: false,
                };
            }
            valid_up_to += piece.len();
        }
        ConstraintCheck {
            valid_up_to,
            complete: self.allows_end(end),
        }
    }

    /// Whether the constrained text is complete: nothing but the end may follow.
    pub(crate) fn is_complete(&self) -> bool {
        match self {
            Constraint::Llguidance(m) => m.is_stopped(),
            Constraint::Gbnf { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_of_parts_llama_cpp_would_drop_or_loop_on_are_refused() {
        // MaskBench's Github_easy---o17683: an `allOf` that includes its own definition.
        let looping = serde_json::json!({
            "definitions": {
                "ChildFoo": {"type": "object"},
                "Foo": {"type": "object", "required": ["childFoos"], "properties": {
                    "childFoos": {"allOf": [{"$ref": "#/definitions/Foo"}, {"$ref": "#/definitions/ChildFoo"}]}}}
            },
            "properties": {"Foo": {"$ref": "#/definitions/Foo"}}
        });
        let err = check_llama_cpp_schema(&looping, &looping, "#").unwrap_err();
        assert!(
            err.contains("recursive definition #/definitions/Foo"),
            "{err}"
        );
        let merged = serde_json::json!({"allOf": [
            {"$ref": "#/$defs/a"}, {"type": "object", "properties": {"b": {"type": "integer"}}}],
            "$defs": {"a": {"type": "object", "properties": {"a": {"type": "string"}}}}});
        assert_eq!(check_llama_cpp_schema(&merged, &merged, "#"), Ok(()));
        for dropped in [
            serde_json::json!({"allOf": [{"type": "string", "minLength": 2}]}),
            serde_json::json!({"allOf": [{"anyOf": [{"required": ["a"]}, {"required": ["b"]}]}]}),
            serde_json::json!({"allOf": [{"$ref": "#/$defs/missing"}]}),
        ] {
            assert!(
                check_llama_cpp_schema(&dropped, &dropped, "#").is_err(),
                "{dropped}"
            );
        }
    }

    #[test]
    fn llguidance_errors_lose_the_state_dump() {
        let raw = "lexer error: too many expressions constructed\n<state>\nTokens: x\n</state><grammar>\n</grammar>";
        assert_eq!(
            llguidance_message(raw),
            "lexer error: too many expressions constructed"
        );
        assert_eq!(llguidance_message("plain"), "plain");
    }

    #[test]
    fn patterns_llama_cpp_cannot_translate_are_detected() {
        assert!(llama_cpp_enforces_pattern("^[a-z]+-[0-9]{2}$"));
        assert!(!llama_cpp_enforces_pattern("^pkg:"));
        assert!(!llama_cpp_enforces_pattern(r"^[A-Fa-f\d]{24}$"));
        assert!(!llama_cpp_enforces_pattern("^(unclosed$"));
    }

    #[test]
    fn schemas_whose_keywords_llama_cpp_would_drop_are_refused() {
        let ok = serde_json::json!({"type": "object", "properties": {
            "id": {"type": "string", "pattern": "^[a-z.]+\\.[0-9]{2}$"},
            "n": {"type": "integer", "minimum": 1}}});
        assert_eq!(check_llama_cpp_schema(&ok, &ok, "#"), Ok(()));
        for bad in [
            serde_json::json!({"type": "string", "pattern": "^(.*?)\\.txt$"}),
            serde_json::json!({"type": "string", "pattern": "^[^/]+$"}),
            serde_json::json!({"type": "string", "pattern": "^\\S+$"}),
            serde_json::json!({"type": "object", "properties": {}, "required": ["top"]}),
            serde_json::json!({"type": "object", "required": ["a"]}),
            serde_json::json!({"type": "string", "pattern": "^a", "description": "x"}),
            serde_json::json!({"type": "string", "pattern": "^a+$", "maxLength": 3}),
            serde_json::json!({"type": "string", "format": "date", "minLength": 3}),
            serde_json::json!({"type": "string", "format": "date"}),
            serde_json::json!({"type": "string", "enum": ["1", "2-two", null]}),
            serde_json::json!({"type": "integer", "const": 1.5}),
            serde_json::json!({"type": "number", "minimum": 0.5}),
            serde_json::json!({"type": "object", "minProperties": 1}),
        ] {
            assert!(check_llama_cpp_schema(&bad, &bad, "#").is_err(), "{bad}");
        }
    }
}
