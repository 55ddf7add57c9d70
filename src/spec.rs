//! Model specs: the one text format every part of slm (the `slm` command, `slm serve`, the
//! examples, the benches) uses to name a model.
//!
//! | spec | model |
//! | --- | --- |
//! | `llamacpp:path/to/model.gguf`, `model.gguf` | a local GGUF file run by llama.cpp |
//! | `llamacpp:smollm2`, `smollm2` | a model slm knows by name, from the model cache |
//! | `llamacpp:hf:owner/repo:Q4_K_M`, `hf:owner/repo/file.gguf` | a Hugging Face Hub file |
//! | `onnx:path/to/folder` | an ONNX model folder (onnxruntime-genai's layout) run by ONNX Runtime (feature `onnx`) |
//! | `azure` | an Azure OpenAI deployment from `AZURE_*` variables |
//! | `openai:http://host:port/v1#model` | any OpenAI-compatible server (`OPENAI_API_KEY`) |
//! | `replay:answers.jsonl[?delay_ms=N][#id]` | recorded answers (tests, demos) |
//! | `draft-refine:SMALL,LARGE` | the small model drafts, the large one refines |
//! | `fallback:A,B[,C…]` | the first model that answers |
//! | `replicas:A,B[,C…]` | one model served by several replicas, spread by least requests in flight |
//! | `rag:INDEX,MODEL` | MODEL grounded on a BM25 index file or a folder of `.txt`/`.md` files |
//!
//! Compositions nest; wrap a nested composition in brackets so its commas stay its own:
//! `fallback:[draft-refine:smollm2,azure],openai:http://127.0.0.1:8080/v1#m`.
//!
//! Parsing is pure and always available; [`open`](crate::open) builds the model.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use slm_core::Error;

/// A parsed model spec (see the [module](self) for the syntax).
///
/// ```
/// use slm::ModelSpec;
/// let s: ModelSpec = "openai:http://localhost:5273/v1#phi-4-mini".parse().unwrap();
/// assert_eq!(s, ModelSpec::OpenAi { base_url: "http://localhost:5273/v1".into(), model: "phi-4-mini".into() });
/// assert_eq!("azure".parse::<ModelSpec>().unwrap(), ModelSpec::Azure);
/// let r: ModelSpec = "replay:answers.jsonl?delay_ms=20#slm".parse().unwrap();
/// assert_eq!(r, ModelSpec::Replay { path: "answers.jsonl".into(), id: Some("slm".into()), delay_ms: 20 });
/// let f: ModelSpec = "fallback:[draft-refine:a.gguf,azure],replay:r.jsonl".parse().unwrap();
/// assert_eq!(f.to_string(), "fallback:[draft-refine:llamacpp:a.gguf,azure],replay:r.jsonl");
/// assert!(matches!("gpt".parse::<ModelSpec>(), Err(slm::Error::Config(..))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelSpec {
    /// A GGUF model run by llama.cpp: a path, a known model's name (`smollm2`) or a Hugging Face
    /// Hub file (`hf:owner/repo:Q4_K_M`, `hf:owner/repo/file.gguf`), resolved by
    /// `slm::llamacpp::source::ModelSource`.
    LlamaCpp {
        /// The GGUF file, or the model source text (`smollm2`, `hf:...`) as given.
        path: PathBuf,
    },
    /// An ONNX model folder in onnxruntime-genai's layout (`genai_config.json`, `model.onnx`,
    /// `tokenizer.json`), run by ONNX Runtime (feature `onnx`).
    Onnx {
        /// The folder.
        dir: PathBuf,
    },
    /// An Azure OpenAI deployment configured from the environment (`AZURE_ENDPOINT`,
    /// `AZURE_API_KEY`, `AZURE_API_VERSION`, `AZURE_DEPLOYMENT`).
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
    /// A small model drafts and a large one refines: `draft-refine:SMALL,LARGE`.
    DraftRefine {
        /// The drafting model.
        draft: Box<ModelSpec>,
        /// The refining model.
        refine: Box<ModelSpec>,
    },
    /// The first model that answers, in order: `fallback:A,B[,C…]`.
    Fallback(Vec<ModelSpec>),
    /// Replicas of one model (llama-server, vLLM or `slm serve` processes), spread by least
    /// requests in flight, a failing one left out for a while: `replicas:A,B[,C…]`.
    Replicas(Vec<ModelSpec>),
    /// A model grounded on documents: `rag:INDEX,MODEL`, where INDEX is a BM25 index file saved
    /// by `slm::rag::Index::save` or a folder of `.txt` / `.md` files indexed on opening.
    Rag {
        /// The index file or folder of documents.
        index: PathBuf,
        /// The answering model.
        model: Box<ModelSpec>,
    },
}

impl ModelSpec {
    /// A short label for file names and table columns.
    ///
    /// ```
    /// let s: slm::ModelSpec = "llamacpp:models/phi-4-mini.Q4_K_M.gguf".parse().unwrap();
    /// assert_eq!(s.label(), "phi-4-mini.Q4_K_M");
    /// let s: slm::ModelSpec = "llamacpp:hf:acme/tiny-GGUF:Q4_K_M@v1".parse().unwrap();
    /// assert_eq!(s.label(), "tiny-GGUF-Q4_K_M");
    /// let s: slm::ModelSpec = "draft-refine:small.gguf,azure".parse().unwrap();
    /// assert_eq!(s.label(), "small+azure");
    /// ```
    pub fn label(&self) -> String {
        match self {
            ModelSpec::LlamaCpp { path } => match path.to_str().and_then(|p| p.strip_prefix("hf:"))
            {
                Some(hub) => hub_label(hub),
                None => stem(path),
            },
            ModelSpec::Onnx { dir } => format!("onnx-{}", stem(dir)),
            ModelSpec::Azure => "azure".into(),
            ModelSpec::OpenAi { model, .. } => model.clone(),
            ModelSpec::Replay { path, id, .. } => id.clone().unwrap_or_else(|| stem(path)),
            ModelSpec::DraftRefine { draft, refine } => {
                format!("{}+{}", draft.label(), refine.label())
            }
            ModelSpec::Fallback(models) => models
                .iter()
                .map(ModelSpec::label)
                .collect::<Vec<_>>()
                .join("|"),
            ModelSpec::Rag { model, .. } => format!("rag-{}", model.label()),
            ModelSpec::Replicas(models) => {
                models.first().map_or_else(String::new, ModelSpec::label)
            }
        }
    }

    /// Whether requests to the model are decoded in this process (so they are batched rather
    /// than sent concurrently over the network).
    ///
    /// ```
    /// assert!(!slm::ModelSpec::Azure.is_local());
    /// assert!("smollm2.gguf".parse::<slm::ModelSpec>().unwrap().is_local());
    /// ```
    pub fn is_local(&self) -> bool {
        match self {
            ModelSpec::LlamaCpp { .. } | ModelSpec::Onnx { .. } | ModelSpec::Replay { .. } => true,
            ModelSpec::Azure | ModelSpec::OpenAi { .. } => false,
            ModelSpec::DraftRefine { draft, .. } => draft.is_local(),
            ModelSpec::Fallback(models) | ModelSpec::Replicas(models) => {
                models.first().is_some_and(ModelSpec::is_local)
            }
            ModelSpec::Rag { model, .. } => model.is_local(),
        }
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

/// Splits `a,[b,c],d` into `a`, `b,c`, `d`: commas inside brackets belong to the part, and a
/// part wrapped whole in brackets loses them.
fn split_parts(text: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.checked_sub(1).ok_or("unbalanced ']'")?,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unbalanced '['".into());
    }
    parts.push(&text[start..]);
    Ok(parts
        .into_iter()
        .map(|p| {
            let p = p.trim();
            p.strip_prefix('[')
                .and_then(|p| p.strip_suffix(']'))
                .unwrap_or(p)
        })
        .collect())
}

/// Whether a spec without a kind names a GGUF model: a `.gguf` path, a Hub file or a known
/// model's name.
fn is_bare_llamacpp(spec: &str) -> bool {
    if spec.starts_with("hf:") || spec.to_ascii_lowercase().ends_with(".gguf") {
        return true;
    }
    #[cfg(feature = "llamacpp")]
    if slm_llamacpp::models::KnownModel::find(spec).is_some() {
        return true;
    }
    false
}

const KINDS: &str = "llamacpp:PATH|NAME|hf:…, PATH.gguf, a known model's name, onnx:DIR, azure, \
                     openai:URL#MODEL, replay:PATH, draft-refine:A,B, fallback:A,B, \
                     replicas:A,B or rag:INDEX,MODEL";

impl FromStr for ModelSpec {
    type Err = Error;

    fn from_str(spec: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::Config(format!("model spec {spec:?}: {why}"), None);
        let spec = spec.trim();
        let (kind, rest) = spec.split_once(':').unwrap_or((spec, ""));
        let known_kind = matches!(
            kind,
            "llamacpp"
                | "onnx"
                | "azure"
                | "openai"
                | "replay"
                | "draft-refine"
                | "fallback"
                | "replicas"
                | "rag"
        );
        if !known_kind && is_bare_llamacpp(spec) {
            return Ok(ModelSpec::LlamaCpp { path: spec.into() });
        }
        let parts = || split_parts(rest).map_err(|why| bad(&why));
        let nested = |text: &str| -> Result<Box<ModelSpec>, Error> { Ok(Box::new(text.parse()?)) };
        match kind {
            "llamacpp" if !rest.is_empty() => Ok(ModelSpec::LlamaCpp { path: rest.into() }),
            "llamacpp" => Err(bad("expected llamacpp:path/to/model.gguf")),
            "onnx" if !rest.is_empty() => Ok(ModelSpec::Onnx { dir: rest.into() }),
            "onnx" => Err(bad("expected onnx:path/to/model-folder")),
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
            "draft-refine" => match parts()?.as_slice() {
                [draft, refine] => Ok(ModelSpec::DraftRefine {
                    draft: nested(draft)?,
                    refine: nested(refine)?,
                }),
                _ => Err(bad("expected draft-refine:SMALL,LARGE")),
            },
            "fallback" | "replicas" => {
                let parts = parts()?;
                if parts.len() < 2 {
                    return Err(bad(&format!(
                        "expected {kind}:A,B[,C…] (two models at least)"
                    )));
                }
                let models = parts.iter().map(|p| p.parse()).collect::<Result<_, _>>()?;
                Ok(if kind == "fallback" {
                    ModelSpec::Fallback(models)
                } else {
                    ModelSpec::Replicas(models)
                })
            }
            "rag" => match parts()?.as_slice() {
                [index, model] if !index.is_empty() => Ok(ModelSpec::Rag {
                    index: index.into(),
                    model: nested(model)?,
                }),
                _ => Err(bad("expected rag:INDEX,MODEL")),
            },
            _ => Err(bad(&format!("expected {KINDS}"))),
        }
    }
}

/// Writes a part of a composition, bracketed when it is itself a composition.
fn write_part(f: &mut fmt::Formatter<'_>, spec: &ModelSpec) -> fmt::Result {
    match spec {
        ModelSpec::DraftRefine { .. }
        | ModelSpec::Fallback(_)
        | ModelSpec::Replicas(_)
        | ModelSpec::Rag { .. } => {
            write!(f, "[{spec}]")
        }
        _ => write!(f, "{spec}"),
    }
}

impl fmt::Display for ModelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelSpec::LlamaCpp { path } => write!(f, "llamacpp:{}", path.display()),
            ModelSpec::Onnx { dir } => write!(f, "onnx:{}", dir.display()),
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
            ModelSpec::DraftRefine { draft, refine } => {
                f.write_str("draft-refine:")?;
                write_part(f, draft)?;
                f.write_str(",")?;
                write_part(f, refine)
            }
            ModelSpec::Fallback(models) | ModelSpec::Replicas(models) => {
                let kind = if matches!(self, ModelSpec::Fallback(_)) {
                    "fallback"
                } else {
                    "replicas"
                };
                write!(f, "{kind}:")?;
                for (i, m) in models.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write_part(f, m)?;
                }
                Ok(())
            }
            ModelSpec::Rag { index, model } => {
                write!(f, "rag:{},", index.display())?;
                write_part(f, model)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_round_trips_through_parse() {
        for text in [
            "llamacpp:m.gguf",
            "azure",
            "openai:http://h:1/v1#m",
            "replay:r.jsonl?delay_ms=5#x",
            "draft-refine:llamacpp:a.gguf,azure",
            "fallback:[draft-refine:llamacpp:a.gguf,azure],[rag:docs,replay:r.jsonl],azure",
            "rag:index.bm25,[fallback:azure,openai:http://h:1/v1#m]",
            "replicas:openai:http://h:1/v1#m,openai:http://h:2/v1#m",
        ] {
            let spec: ModelSpec = text.parse().unwrap();
            assert_eq!(spec.to_string(), text);
            assert_eq!(spec.to_string().parse::<ModelSpec>().unwrap(), spec);
        }
    }

    #[test]
    fn bad_specs_are_config_errors_naming_the_spec() {
        for text in [
            "",
            "gpt",
            "llamacpp:",
            "azure:x",
            "openai:localhost#m",
            "openai:http://h/v1#",
            "replay:",
            "replay:r.jsonl?delay_ms=soon",
            "draft-refine:azure",
            "draft-refine:azure,azure,azure",
            "fallback:azure",
            "fallback:[azure,azure",
            "fallback:azure],azure",
            "rag:,azure",
            "rag:docs",
            "fallback:azure,gpt",
            "replicas:azure",
        ] {
            match text.parse::<ModelSpec>() {
                Err(Error::Config(msg, ..)) => assert!(msg.contains("model spec"), "{text}: {msg}"),
                other => panic!("{text:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn bare_gguf_paths_and_hub_files_are_llamacpp() {
        for text in ["models/x.GGUF", "hf:acme/tiny-GGUF:Q4_K_M"] {
            assert_eq!(
                text.parse::<ModelSpec>().unwrap(),
                ModelSpec::LlamaCpp { path: text.into() }
            );
        }
    }

    #[cfg(feature = "llamacpp")]
    #[test]
    fn known_model_names_are_llamacpp() {
        let spec: ModelSpec = "smollm2".parse().unwrap();
        assert_eq!(spec.to_string(), "llamacpp:smollm2");
        assert!(spec.is_local());
    }
}
