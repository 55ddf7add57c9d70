//! `slm inspect FILE.gguf` (or a spec naming a GGUF: `smollm2`, `hf:owner/repo:Q4_K_M`): what the
//! file holds, read from its header alone (the model is never loaded): architecture, parameters,
//! size, quantization mix, context length, vocabulary, special tokens and chat template.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use comfy_table::Cell;
use serde::Serialize;
use slm::ModelSpec;
use slm_llamacpp::QuantizeType;
use slm_llamacpp::gguf::{GgufHeader, GgufInfo, GgufValue, TensorTypeStats};
use slm_llamacpp::source::ModelSource;

use crate::table;

/// Arguments of `slm inspect`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  slm inspect smollm2\n  slm inspect model.gguf --json | jq .tensor_types\n  slm inspect model.gguf --template"
)]
pub struct InspectArgs {
    /// A GGUF file, or a spec naming one (`smollm2`, `hf:owner/repo:Q4_K_M`).
    #[arg(value_name = "FILE|SPEC")]
    pub target: String,
    /// Print everything as JSON (the whole chat template included).
    #[arg(long, conflicts_with = "template")]
    pub json: bool,
    /// Print only the whole chat template.
    #[arg(long)]
    pub template: bool,
    /// Context length for the memory estimate (default: the model's, at most 4096).
    #[arg(long = "ctx-size", short = 'c', value_name = "TOKENS")]
    pub ctx_size: Option<u64>,
}

/// Special tokens listed by `slm inspect`, by their GGUF key's middle part.
const SPECIAL_TOKENS: [&str; 8] = [
    "bos",
    "eos",
    "eot",
    "eom",
    "unknown",
    "padding",
    "separator",
    "mask",
];

/// Lines of the chat template shown without `--template`.
const TEMPLATE_LINES: usize = 8;

/// One special token: its id and text.
#[derive(Debug, Serialize)]
struct SpecialToken {
    id: u64,
    text: Option<String>,
}

/// What `slm inspect --json` prints.
#[derive(Debug, Serialize)]
struct Report {
    path: PathBuf,
    gguf_version: u32,
    architecture: String,
    name: Option<String>,
    file_size: u64,
    parameters: u64,
    tensors: usize,
    /// `general.file_type` as llama.cpp names it (`Q4_1`), else `ftype N`.
    file_type: Option<String>,
    /// The type of most 2-D weights (ggml's name: `q8_0`).
    dominant_type: String,
    /// Per ggml type: tensors, parameters, bytes.
    tensor_types: BTreeMap<String, TensorTypeStats>,
    context_length: Option<u64>,
    embedding_length: Option<u64>,
    block_count: Option<u64>,
    head_count: Option<u64>,
    head_count_kv: Option<u64>,
    vocab_size: Option<u64>,
    /// `tokenizer.ggml.model` (`gpt2` = byte-level BPE, `llama` = SentencePiece, ...).
    tokenizer: Option<String>,
    /// `tokenizer.ggml.pre`: the pre-tokenizer.
    tokenizer_pre: Option<String>,
    special_tokens: BTreeMap<String, SpecialToken>,
    add_bos_token: Option<bool>,
    chat_template: Option<String>,
    memory_estimate: slm_llamacpp::gguf::MemoryEstimate,
}

/// Runs `slm inspect`.
pub fn run(args: InspectArgs) -> anyhow::Result<u8> {
    let path = resolve(&args.target)?;
    let header =
        GgufHeader::read(&path).with_context(|| format!("cannot inspect {}", path.display()))?;
    let info = GgufInfo::from_header(&header);
    if args.template {
        let Some(template) = &info.chat_template else {
            bail!("{} has no chat template", path.display());
        };
        println!("{}", template.trim_end());
        return Ok(0);
    }
    let report = report(&path, &header, info, args.ctx_size);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(0)
}

/// The GGUF file a target names: an existing path as it is, else a model spec that names a
/// GGUF (a known model from the cache, a Hub file, downloaded with a progress bar).
fn resolve(target: &str) -> anyhow::Result<PathBuf> {
    let path = Path::new(target);
    if path.exists() {
        return Ok(path.to_path_buf());
    }
    let spec: ModelSpec = target
        .parse()
        .with_context(|| format!("{target} is neither a file nor a model spec"))?;
    let ModelSpec::LlamaCpp { path } = &spec else {
        bail!(
            "{target} names {}, not a GGUF file: inspect reads GGUF files",
            kind(&spec)
        );
    };
    let Some(text) = path.to_str() else {
        return Ok(path.clone());
    };
    let source: ModelSource = text.parse()?;
    let progress = crate::model_args::download_progress();
    Ok(source.resolve(&mut |event| progress(event))?)
}

fn kind(spec: &ModelSpec) -> &'static str {
    match spec {
        ModelSpec::LlamaCpp { .. } => "a GGUF model",
        ModelSpec::Onnx { .. } => "an ONNX model folder",
        ModelSpec::Azure => "an Azure OpenAI deployment",
        ModelSpec::OpenAi { .. } => "an OpenAI-compatible server",
        ModelSpec::Replay { .. } => "recorded answers",
        ModelSpec::DraftRefine { .. } => "a draft-refine composition",
        ModelSpec::Fallback(_) => "a fallback composition",
        ModelSpec::Replicas(_) => "a set of replicas",
        ModelSpec::Rag { .. } => "a RAG composition",
    }
}

fn report(path: &Path, header: &GgufHeader, info: GgufInfo, ctx_size: Option<u64>) -> Report {
    let tokens = header
        .get("tokenizer.ggml.tokens")
        .and_then(GgufValue::as_array);
    let special_tokens = SPECIAL_TOKENS
        .iter()
        .filter_map(|name| {
            let id = header.get_u64(&format!("tokenizer.ggml.{name}_token_id"))?;
            let text = tokens
                .and_then(|t| t.get(usize::try_from(id).ok()?))
                .and_then(GgufValue::as_str)
                .map(str::to_string);
            Some((name.to_string(), SpecialToken { id, text }))
        })
        .collect();
    let file_type = info.file_type.map(|ftype| {
        QuantizeType::all()
            .iter()
            .find(|t| u64::from(t.ftype()) == ftype)
            .map_or_else(|| format!("ftype {ftype}"), |t| t.to_string())
    });
    let memory_ctx = ctx_size.unwrap_or_else(|| info.context_length.unwrap_or(4096).min(4096));
    Report {
        path: path.to_path_buf(),
        gguf_version: info.version,
        memory_estimate: info.memory_estimate(memory_ctx),
        architecture: info.architecture,
        name: info.name,
        file_size: info.file_size,
        parameters: info.parameter_count,
        tensors: header.tensors.len(),
        file_type,
        dominant_type: info.dominant_type.name().to_string(),
        tensor_types: info
            .tensor_types
            .iter()
            .map(|(t, s)| (t.name().to_string(), *s))
            .collect(),
        context_length: info.context_length,
        embedding_length: info.embedding_length,
        block_count: info.block_count,
        head_count: info.head_count,
        head_count_kv: info.head_count_kv,
        vocab_size: info.vocab_size,
        tokenizer: header.get_str("tokenizer.ggml.model").map(str::to_string),
        tokenizer_pre: header.get_str("tokenizer.ggml.pre").map(str::to_string),
        special_tokens,
        add_bos_token: match header.get("tokenizer.ggml.add_bos_token") {
            Some(GgufValue::Bool(b)) => Some(*b),
            _ => None,
        },
        chat_template: info.chat_template,
    }
}

fn print_report(r: &Report) {
    let opt = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
    let mut facts = table::new(&[]);
    let mut row = |key: &str, value: String| {
        facts.add_row(vec![Cell::new(key), Cell::new(value)]);
    };
    row("file", r.path.display().to_string());
    row(
        "architecture",
        match &r.name {
            Some(name) => format!("{} ({name})", r.architecture),
            None => r.architecture.clone(),
        },
    );
    row(
        "parameters",
        format!("{} ({})", table::count(r.parameters), r.parameters),
    );
    row(
        "file size",
        format!("{} ({} bytes)", table::bytes(r.file_size), r.file_size),
    );
    row(
        "quantization",
        match &r.file_type {
            Some(ft) => format!("{ft} (most weights {})", r.dominant_type),
            None => format!("most weights {}", r.dominant_type),
        },
    );
    row("context length", opt(r.context_length));
    row(
        "layers · heads · kv heads · width",
        format!(
            "{} · {} · {} · {}",
            opt(r.block_count),
            opt(r.head_count),
            opt(r.head_count_kv),
            opt(r.embedding_length)
        ),
    );
    row(
        "vocabulary",
        format!(
            "{} tokens, {}{}",
            opt(r.vocab_size),
            tokenizer_kind(r.tokenizer.as_deref()),
            r.tokenizer_pre
                .as_ref()
                .map_or_else(String::new, |p| format!(", pre-tokenizer {p}"))
        ),
    );
    if !r.special_tokens.is_empty() {
        let tokens: Vec<String> = r
            .special_tokens
            .iter()
            .map(|(name, t)| match &t.text {
                Some(text) => format!("{name} {} {text:?}", t.id),
                None => format!("{name} {}", t.id),
            })
            .collect();
        row("special tokens", tokens.join("\n"));
    }
    let m = &r.memory_estimate;
    row(
        "memory",
        format!(
            "{} weights + {} KV cache at {} tokens = {}",
            table::bytes(m.weights_bytes),
            table::bytes(m.kv_cache_bytes),
            m.context_length,
            table::bytes(m.total_bytes)
        ),
    );
    row(
        "GGUF",
        format!("v{}, {} tensors", r.gguf_version, r.tensors),
    );
    println!("{facts}");

    let total: u64 = r.tensor_types.values().map(|s| s.bytes).sum::<u64>().max(1);
    let mut types = table::new(&["type", "tensors", "parameters", "bytes", "share"]);
    let mut rows: Vec<_> = r.tensor_types.iter().collect();
    rows.sort_by_key(|row| std::cmp::Reverse(row.1.bytes));
    for (name, s) in rows {
        types.add_row(vec![
            Cell::new(name),
            table::num(s.tensors),
            table::num(table::count(s.parameters)),
            table::num(table::bytes(s.bytes)),
            table::num(format!("{:.1}%", s.bytes as f64 * 100.0 / total as f64)),
        ]);
    }
    println!("{types}");

    match &r.chat_template {
        None => println!("chat template: none"),
        Some(template) => {
            let lines: Vec<&str> = template.lines().collect();
            println!("chat template ({} lines):", lines.len());
            for line in lines.iter().take(TEMPLATE_LINES) {
                println!("  {line}");
            }
            if lines.len() > TEMPLATE_LINES {
                println!(
                    "  … (slm inspect {} --template prints it all)",
                    r.path.display()
                );
            }
        }
    }
}

fn tokenizer_kind(model: Option<&str>) -> String {
    match model {
        Some("gpt2") => "byte-level BPE (gpt2)".into(),
        Some("llama") => "SentencePiece (llama)".into(),
        Some("bert") => "WordPiece (bert)".into(),
        Some(other) => other.to_string(),
        None => "tokenizer unknown".into(),
    }
}
