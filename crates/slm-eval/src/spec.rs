//! Model specs as the CLI takes them: `llamacpp:model.gguf`, `azure`,
//! `openai:http://localhost:5273/v1#phi-4-mini`, `replay:answers.jsonl`.
//!
//! Parsing lives in the library (pure, tested); building a model from a spec needs the backend
//! crates and lives in the `slm-eval` binary behind the `llamacpp` and `remote` features.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::EvalError;

/// A parsed model spec.
///
/// ```
/// use slm_eval::ModelSpec;
/// let s: ModelSpec = "openai:http://localhost:5273/v1#phi-4-mini".parse().unwrap();
/// assert_eq!(s, ModelSpec::OpenAi { base_url: "http://localhost:5273/v1".into(), model: "phi-4-mini".into() });
/// assert_eq!("azure".parse::<ModelSpec>().unwrap(), ModelSpec::Azure);
/// let r: ModelSpec = "replay:answers.jsonl?delay_ms=20#slm".parse().unwrap();
/// assert_eq!(r, ModelSpec::Replay { path: "answers.jsonl".into(), id: Some("slm".into()), delay_ms: 20 });
/// assert!("gpt".parse::<ModelSpec>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSpec {
    /// A GGUF model run by llama.cpp: `llamacpp:path/to/model.gguf`, a known model's name
    /// (`llamacpp:smollm2`) or a Hugging Face Hub file (`llamacpp:hf:owner/repo:Q4_K_M`,
    /// `llamacpp:hf:owner/repo/file.gguf`), resolved by `slm_llamacpp::source::ModelSource`.
    LlamaCpp {
        /// The GGUF file, or the model source text (`smollm2`, `hf:...`) as given.
        path: PathBuf,
    },
    /// An Azure OpenAI deployment configured from the environment (`AZURE_ENDPOINT`,
    /// `AZURE_API_KEY`, `AZURE_API_VERSION`, `AZURE_DEPLOYMENT`): `azure`.
    Azure,
    /// An OpenAI-compatible server: `openai:http://host:port/v1#model`.
    OpenAi {
        /// The API base URL.
        base_url: String,
        /// The model name sent in requests.
        model: String,
    },
    /// Recorded answers keyed by prompt: `replay:answers.jsonl[?delay_ms=N][#id]`.
    Replay {
        /// The JSONL file of `{"prompt", "reply"}` (or `completion`) rows.
        path: PathBuf,
        /// The model id to report (the file stem by default).
        id: Option<String>,
        /// Simulated latency per answer.
        delay_ms: u64,
    },
}

impl ModelSpec {
    /// A short label for file names and table columns.
    ///
    /// ```
    /// let s: slm_eval::ModelSpec = "llamacpp:models/phi-4-mini.Q4_K_M.gguf".parse().unwrap();
    /// assert_eq!(s.label(), "phi-4-mini.Q4_K_M");
    /// let s: slm_eval::ModelSpec = "llamacpp:hf:acme/tiny-GGUF:Q4_K_M@v1".parse().unwrap();
    /// assert_eq!(s.label(), "tiny-GGUF-Q4_K_M");
    /// ```
    pub fn label(&self) -> String {
        match self {
            ModelSpec::LlamaCpp { path } => match path.to_str().and_then(|p| p.strip_prefix("hf:"))
            {
                Some(hub) => hub_label(hub),
                None => stem(path),
            },
            ModelSpec::Azure => "azure".into(),
            ModelSpec::OpenAi { model, .. } => model.clone(),
            ModelSpec::Replay { path, id, .. } => id.clone().unwrap_or_else(|| stem(path)),
        }
    }

    /// Whether the model runs in this process (so requests are batched rather than sent
    /// concurrently).
    ///
    /// ```
    /// assert!(!slm_eval::ModelSpec::Azure.is_local());
    /// ```
    pub fn is_local(&self) -> bool {
        matches!(self, ModelSpec::LlamaCpp { .. } | ModelSpec::Replay { .. })
    }
}

/// `owner/repo:Q4_K_M@rev` → `repo-Q4_K_M`; `owner/repo/dir/file.gguf` → `file`.
fn hub_label(hub: &str) -> String {
    let hub = hub.split(['#', '@']).next().unwrap_or(hub);
    let last = hub.rsplit('/').next().unwrap_or(hub);
    stem(std::path::Path::new(&last.replace(':', "-")))
}

fn stem(path: &std::path::Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into())
}

impl FromStr for ModelSpec {
    type Err = EvalError;

    fn from_str(spec: &str) -> Result<Self, EvalError> {
        let bad = |why: &str| EvalError::InvalidArgument(format!("model spec {spec:?}: {why}"));
        let (kind, rest) = spec.split_once(':').unwrap_or((spec, ""));
        match kind {
            "llamacpp" if !rest.is_empty() => Ok(ModelSpec::LlamaCpp { path: rest.into() }),
            "llamacpp" => Err(bad("expected llamacpp:path/to/model.gguf")),
            "azure" if rest.is_empty() => Ok(ModelSpec::Azure),
            "azure" => Err(bad(
                "azure takes no arguments; configure it with AZURE_* variables",
            )),
            "openai" => {
                let (base_url, model) = rest
                    .rsplit_once('#')
                    .ok_or_else(|| bad("expected openai:http://host:port/v1#model"))?;
                if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
                    return Err(bad("the base URL must start with http:// or https://"));
                }
                if model.is_empty() {
                    return Err(bad("the model name after # is empty"));
                }
                Ok(ModelSpec::OpenAi {
                    base_url: base_url.into(),
                    model: model.into(),
                })
            }
            "replay" if !rest.is_empty() => {
                let (rest, id) = match rest.rsplit_once('#') {
                    Some((r, id)) if !id.is_empty() => (r, Some(id.to_string())),
                    _ => (rest, None),
                };
                let (path, delay_ms) = match rest.split_once("?delay_ms=") {
                    Some((p, ms)) => (
                        p,
                        ms.parse().map_err(|_| bad("delay_ms must be an integer"))?,
                    ),
                    None => (rest, 0),
                };
                Ok(ModelSpec::Replay {
                    path: path.into(),
                    id,
                    delay_ms,
                })
            }
            "replay" => Err(bad("expected replay:answers.jsonl")),
            _ => Err(bad(
                "expected llamacpp:PATH, azure, openai:URL#MODEL or replay:PATH",
            )),
        }
    }
}

impl fmt::Display for ModelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelSpec::LlamaCpp { path } => write!(f, "llamacpp:{}", path.display()),
            ModelSpec::Azure => f.write_str("azure"),
            ModelSpec::OpenAi { base_url, model } => write!(f, "openai:{base_url}#{model}"),
            ModelSpec::Replay { path, id, delay_ms } => {
                write!(f, "replay:{}", path.display())?;
                if *delay_ms > 0 {
                    write!(f, "?delay_ms={delay_ms}")?;
                }
                if let Some(id) = id {
                    write!(f, "#{id}")?;
                }
                Ok(())
            }
        }
    }
}
