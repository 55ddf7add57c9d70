//! The model folder: `genai_config.json` (onnxruntime-genai's schema, the fields this backend
//! reads) and `tokenizer_config.json`.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::OnnxError;

/// What this backend reads from a folder's `genai_config.json`.
///
/// ```
/// let json = r#"{"model": {"context_length": 2048, "eos_token_id": [2, 7], "vocab_size": 100,
///   "decoder": {"filename": "model.onnx", "head_size": 16, "hidden_size": 64,
///     "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2}}}"#;
/// let c = slm_onnx::GenaiConfig::from_json(json).unwrap();
/// assert_eq!(c.model.eos_token_id.ids(), vec![2, 7]);
/// assert_eq!(c.model.decoder.inputs.past_key_name(1), "past_key_values.1.key");
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct GenaiConfig {
    /// The `model` section.
    pub model: ModelSection,
}

/// `genai_config.json`'s `model` section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ModelSection {
    /// The context window in tokens.
    pub context_length: u32,
    /// The end-of-sequence token(s).
    pub eos_token_id: TokenIds,
    /// The beginning-of-sequence token, when the model has one.
    #[serde(default)]
    pub bos_token_id: Option<u32>,
    /// The padding token.
    #[serde(default)]
    pub pad_token_id: Option<u32>,
    /// The size of the logits' last axis.
    pub vocab_size: u32,
    /// The model family (`llama`, `phi3`, ...), informative.
    #[serde(default, rename = "type")]
    pub model_type: Option<String>,
    /// The decoder graph.
    pub decoder: DecoderSection,
}

/// One token id or several (genai writes either).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum TokenIds {
    /// A single id.
    One(u32),
    /// Several ids.
    Many(Vec<u32>),
}

impl TokenIds {
    /// The ids as a list.
    ///
    /// ```
    /// assert_eq!(slm_onnx::TokenIds::One(2).ids(), vec![2]);
    /// ```
    pub fn ids(&self) -> Vec<u32> {
        match self {
            TokenIds::One(id) => vec![*id],
            TokenIds::Many(ids) => ids.clone(),
        }
    }
}

/// `genai_config.json`'s `model.decoder` section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DecoderSection {
    /// The graph file, relative to the folder.
    pub filename: String,
    /// Size of one attention head.
    pub head_size: u32,
    /// Hidden size.
    pub hidden_size: u32,
    /// Query heads.
    pub num_attention_heads: u32,
    /// Layers (one key and one value cache each).
    pub num_hidden_layers: u32,
    /// Key/value heads (fewer than query heads with grouped-query attention).
    pub num_key_value_heads: u32,
    /// Input names.
    #[serde(default)]
    pub inputs: InputNames,
    /// Output names.
    #[serde(default)]
    pub outputs: OutputNames,
}

/// The graph's input names (`%d` stands for the layer).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct InputNames {
    /// Token ids, int64 `[batch, seq]`.
    pub input_ids: String,
    /// Attention mask, int64 `[batch, total]`.
    pub attention_mask: String,
    /// Positions, int64 `[batch, seq]` (optional in the graph).
    pub position_ids: String,
    /// Past keys, `past_key_values.%d.key`.
    pub past_key_names: String,
    /// Past values, `past_key_values.%d.value`.
    pub past_value_names: String,
}

impl Default for InputNames {
    fn default() -> Self {
        Self {
            input_ids: "input_ids".into(),
            attention_mask: "attention_mask".into(),
            position_ids: "position_ids".into(),
            past_key_names: "past_key_values.%d.key".into(),
            past_value_names: "past_key_values.%d.value".into(),
        }
    }
}

impl InputNames {
    /// The past-key input of a layer.
    pub fn past_key_name(&self, layer: usize) -> String {
        self.past_key_names.replace("%d", &layer.to_string())
    }
    /// The past-value input of a layer.
    pub fn past_value_name(&self, layer: usize) -> String {
        self.past_value_names.replace("%d", &layer.to_string())
    }
}

/// The graph's output names (`%d` stands for the layer).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct OutputNames {
    /// Logits, float32 `[batch, seq, vocab]`.
    pub logits: String,
    /// Present keys, `present.%d.key`.
    pub present_key_names: String,
    /// Present values, `present.%d.value`.
    pub present_value_names: String,
}

impl Default for OutputNames {
    fn default() -> Self {
        Self {
            logits: "logits".into(),
            present_key_names: "present.%d.key".into(),
            present_value_names: "present.%d.value".into(),
        }
    }
}

impl OutputNames {
    /// The present-key output of a layer.
    pub fn present_key_name(&self, layer: usize) -> String {
        self.present_key_names.replace("%d", &layer.to_string())
    }
    /// The present-value output of a layer.
    pub fn present_value_name(&self, layer: usize) -> String {
        self.present_value_names.replace("%d", &layer.to_string())
    }
}

impl GenaiConfig {
    /// Parses `genai_config.json`'s text.
    ///
    /// ```
    /// assert!(slm_onnx::GenaiConfig::from_json("{}").is_err());
    /// ```
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Reads a folder's `genai_config.json`.
    ///
    /// ```
    /// let err = slm_onnx::GenaiConfig::load("/nonexistent".as_ref()).unwrap_err();
    /// assert!(matches!(err, slm_onnx::OnnxError::MissingConfig { .. }));
    /// ```
    pub fn load(dir: &Path) -> Result<Self, OnnxError> {
        let path = dir.join("genai_config.json");
        if !path.is_file() {
            return Err(OnnxError::MissingConfig {
                dir: dir.to_path_buf(),
            });
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| invalid(dir, format!("genai_config.json: {e}")))?;
        let config =
            Self::from_json(&text).map_err(|e| invalid(dir, format!("genai_config.json: {e}")))?;
        let d = &config.model.decoder;
        if d.num_hidden_layers == 0
            || d.num_key_value_heads == 0
            || d.head_size == 0
            || d.num_attention_heads % d.num_key_value_heads != 0
            || config.model.context_length == 0
            || config.model.vocab_size == 0
        {
            return Err(invalid(
                dir,
                "genai_config.json: inconsistent model dimensions".into(),
            ));
        }
        Ok(config)
    }
}

pub(crate) fn invalid(dir: &Path, reason: String) -> OnnxError {
    OnnxError::InvalidFolder {
        dir: dir.to_path_buf(),
        reason,
    }
}

/// What `tokenizer_config.json` contributes: the chat template and its special-token texts.
#[derive(Debug, Clone, Default)]
pub(crate) struct TokenizerConfig {
    pub(crate) chat_template: Option<String>,
    pub(crate) bos_token: String,
    pub(crate) eos_token: String,
}

fn token_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(o)) => o
            .get("content")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        _ => String::new(),
    }
}

impl TokenizerConfig {
    pub(crate) fn load(dir: &Path) -> Result<Self, OnnxError> {
        let path: PathBuf = dir.join("tokenizer_config.json");
        if !path.is_file() {
            return Ok(Self::default());
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| invalid(dir, format!("tokenizer_config.json: {e}")))?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| invalid(dir, format!("tokenizer_config.json: {e}")))?;
        let chat_template = match v.get("chat_template") {
            Some(Value::String(s)) => Some(s.clone()),
            // A list of named templates: take "default".
            Some(Value::Array(list)) => list
                .iter()
                .find(|t| t.get("name").and_then(Value::as_str) == Some("default"))
                .or_else(|| list.first())
                .and_then(|t| t.get("template"))
                .and_then(Value::as_str)
                .map(str::to_string),
            _ => None,
        };
        Ok(Self {
            chat_template,
            bos_token: token_text(v.get("bos_token")),
            eos_token: token_text(v.get("eos_token")),
        })
    }
}
