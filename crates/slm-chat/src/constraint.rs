//! Constrained decoding through llguidance, independent of the inference engine.
//!
//! A backend builds one [`ConstraintCompiler`] per model from llguidance's tokenizer
//! environment ([`toktrie::TokEnv`]: each token's bytes and the end-of-sequence token), then
//! a [`Constraint`] per request. Before sampling it asks for the [`Constraint::mask`] of
//! allowed tokens, after sampling it calls [`Constraint::accept`], and it ends the answer when
//! [`Constraint::is_complete`] (or the model chooses its end token and
//! [`Constraint::allows_end`]).
//!
//! ```
//! use slm_chat::constraint::ConstraintCompiler;
//! // llguidance's byte tokenizer: one token per byte, plus an end token.
//! let env = toktrie::ApproximateTokEnv::single_byte_env();
//! let compiler = ConstraintCompiler::new(env).unwrap();
//! let schema = serde_json::json!({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]});
//! let mut c = compiler.json_schema(&schema).unwrap();
//! for b in br#"{"a": 7}"# {
//!     assert!(c.mask().unwrap().is_allowed(*b as u32));
//!     c.accept(*b as u32).unwrap();
//! }
//! assert!(c.allows_end());
//! ```

use llguidance::api::TopLevelGrammar;
use llguidance::{Matcher, ParserFactory};
use serde_json::Value;
use toktrie::{SimpleVob, TokEnv};

/// Why a constraint could not be built or followed.
///
/// ```
/// let e = slm_chat::constraint::ConstraintError::Schema("bad".into());
/// assert_eq!(e.to_string(), "JSON schema: bad");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConstraintError {
    /// llguidance could not be set up for the vocabulary.
    #[error("constraint setup: {0}")]
    Setup(String),
    /// The JSON schema is not supported or invalid.
    #[error("JSON schema: {0}")]
    Schema(String),
    /// The grammar is not supported or invalid.
    #[error("grammar: {0}")]
    Grammar(String),
    /// The parser rejected a token or failed while computing a mask.
    #[error("constrained decoding: {0}")]
    Decode(String),
}

/// Compiles constraints for one vocabulary (llguidance's token tables are built once).
pub struct ConstraintCompiler {
    factory: ParserFactory,
}

impl std::fmt::Debug for ConstraintCompiler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConstraintCompiler").finish_non_exhaustive()
    }
}

impl ConstraintCompiler {
    /// Builds llguidance's tables for a tokenizer environment.
    ///
    /// ```
    /// let env = toktrie::ApproximateTokEnv::single_byte_env();
    /// assert!(slm_chat::constraint::ConstraintCompiler::new(env).is_ok());
    /// ```
    pub fn new(env: TokEnv) -> Result<Self, ConstraintError> {
        let mut factory =
            ParserFactory::new_simple(&env).map_err(|e| ConstraintError::Setup(e.to_string()))?;
        factory.quiet();
        Ok(Self { factory })
    }

    /// A constraint to JSON matching `schema` (one line, `", "` and `": "` separators as
    /// Python's `json.dumps`, properties in the schema's order).
    ///
    /// ```
    /// # let env = toktrie::ApproximateTokEnv::single_byte_env();
    /// let compiler = slm_chat::constraint::ConstraintCompiler::new(env).unwrap();
    /// assert!(compiler.json_schema(&serde_json::json!({"type": "string"})).is_ok());
    /// ```
    pub fn json_schema(&self, schema: &Value) -> Result<Constraint, ConstraintError> {
        let mut schema = schema.clone();
        if let Some(map) = schema.as_object_mut() {
            map.entry("x-guidance")
                .or_insert_with(|| serde_json::json!({"whitespace_flexible": false, "item_separator": ", ", "key_separator": ": "}));
        }
        self.compile(
            TopLevelGrammar::from_json_schema(schema),
            ConstraintError::Schema,
        )
    }

    /// A constraint to any JSON object (`ResponseFormat::Json`, OpenAI's JSON mode).
    ///
    /// ```
    /// # let env = toktrie::ApproximateTokEnv::single_byte_env();
    /// let compiler = slm_chat::constraint::ConstraintCompiler::new(env).unwrap();
    /// assert!(compiler.any_json().is_ok());
    /// ```
    pub fn any_json(&self) -> Result<Constraint, ConstraintError> {
        self.json_schema(&serde_json::json!({"type": "object"}))
    }

    /// A constraint to a llguidance Lark grammar.
    ///
    /// ```
    /// # let env = toktrie::ApproximateTokEnv::single_byte_env();
    /// let compiler = slm_chat::constraint::ConstraintCompiler::new(env).unwrap();
    /// assert!(compiler.lark(r#"start: "yes" | "no""#).is_ok());
    /// ```
    pub fn lark(&self, grammar: &str) -> Result<Constraint, ConstraintError> {
        self.compile(
            TopLevelGrammar::from_lark(grammar.to_string()),
            ConstraintError::Grammar,
        )
    }

    fn compile(
        &self,
        grammar: TopLevelGrammar,
        error: fn(String) -> ConstraintError,
    ) -> Result<Constraint, ConstraintError> {
        let parser = self
            .factory
            .create_parser(grammar)
            .map_err(|e| error(message(&e.to_string())))?;
        let matcher = Matcher::new(Ok(parser));
        if let Some(e) = matcher.get_error() {
            return Err(error(message(&e)));
        }
        Ok(Constraint {
            matcher: Box::new(matcher),
        })
    }
}

/// llguidance's error text without the parser-state dump it appends.
fn message(error: &str) -> String {
    error
        .split("\n<state>")
        .next()
        .unwrap_or(error)
        .trim()
        .to_string()
}

/// A compiled constraint with its parser state for one answer.
pub struct Constraint {
    matcher: Box<Matcher>,
}

impl std::fmt::Debug for Constraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Constraint").finish_non_exhaustive()
    }
}

impl Constraint {
    /// The tokens allowed next (a bit set over the vocabulary).
    pub fn mask(&mut self) -> Result<SimpleVob, ConstraintError> {
        self.matcher
            .compute_mask()
            .map_err(|e| ConstraintError::Decode(message(&e.to_string())))
    }

    /// Advances past `token`.
    pub fn accept(&mut self, token: u32) -> Result<(), ConstraintError> {
        self.matcher
            .consume_token(token)
            .map_err(|e| ConstraintError::Decode(message(&e.to_string())))
    }

    /// Whether the answer may end here.
    pub fn allows_end(&mut self) -> bool {
        self.matcher.is_stopped() || self.matcher.is_accepting().unwrap_or(false)
    }

    /// Whether nothing but the end may follow.
    pub fn is_complete(&self) -> bool {
        self.matcher.is_stopped()
    }
}
