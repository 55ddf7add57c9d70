//! What every command that opens a model shares: the load flags (`--parallel`, `--ctx-size`,
//! `--threads`, `--gpu-layers`), the download progress bar and the loading spinner.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use slm::{DownloadEvent, ModelSpec, OpenOptions, OpenedModel};

/// How local models are loaded.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ModelArgs {
    /// Sequences a local model decodes together (requests in flight to a remote one).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub parallel: Option<u32>,
    /// Context length per sequence of a local model, in tokens (default: the model's, at most
    /// 4096).
    #[arg(long = "ctx-size", short = 'c', value_name = "TOKENS", value_parser = clap::value_parser!(u32).range(1..))]
    pub ctx_size: Option<u32>,
    /// CPU threads of a local model (default: all cores).
    #[arg(long, short = 't', value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,
    /// Layers of a local model offloaded to the GPU (builds with the `cuda` feature).
    #[arg(long = "gpu-layers", value_name = "N", default_value_t = 0)]
    pub gpu_layers: u32,
    /// Evaluate every prompt whole: no reuse of a previous request's keys and values (for
    /// bit-for-bit reproducible sampling on quantized models).
    #[arg(long = "no-prompt-cache")]
    pub no_prompt_cache: bool,
    /// A smaller GGUF model with the same vocabulary that drafts tokens for a local model
    /// (speculative decoding; the same answers): a path or a known name.
    #[arg(long = "draft-model", value_name = "MODEL")]
    pub draft_model: Option<String>,
}

impl ModelArgs {
    /// The open options these flags ask for; `default_parallel` applies when `--parallel` is
    /// not given (`None`: the library's default).
    pub fn open_options(&self, default_parallel: Option<u32>) -> OpenOptions {
        OpenOptions {
            parallel: self.parallel.or(default_parallel),
            context_length: self.ctx_size,
            gpu_layers: self.gpu_layers,
            threads: self.threads,
            no_prompt_cache: self.no_prompt_cache,
            draft_model: self.draft_model.clone(),
            on_download: Some(download_progress()),
        }
    }
}

/// Opens a model, with a spinner on stderr (terminals only) while it loads.
pub async fn open(spec: &ModelSpec, options: &OpenOptions) -> anyhow::Result<OpenedModel> {
    let spinner = spinner(format!("loading {spec}"));
    let opened = slm::open(spec, options).await;
    spinner.finish_and_clear();
    opened.with_context(|| format!("cannot open model {spec}"))
}

/// A spinner on stderr, drawn only when stderr is a terminal.
pub fn spinner(message: impl Into<std::borrow::Cow<'static, str>>) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// A byte progress bar on stderr, drawn only when stderr is a terminal.
pub fn bytes_bar(total: u64, message: impl Into<std::borrow::Cow<'static, str>>) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(message);
    bar
}

/// The download progress reporter for [`OpenOptions::on_download`] and
/// `ModelSource::resolve`: one progress bar per file on stderr (terminals only).
pub fn download_progress() -> Arc<dyn Fn(&DownloadEvent) + Send + Sync> {
    let bar: Mutex<Option<ProgressBar>> = Mutex::new(None);
    Arc::new(move |event: &DownloadEvent| {
        let Ok(mut bar) = bar.lock() else { return };
        match event {
            DownloadEvent::Listing { repo } => {
                let spinner = spinner(format!("listing {repo}"));
                if let Some(old) = bar.replace(spinner) {
                    old.finish_and_clear();
                }
            }
            DownloadEvent::Started { file, total_bytes } => {
                if let Some(old) = bar.replace(bytes_bar(*total_bytes, file.clone())) {
                    old.finish_and_clear();
                }
            }
            DownloadEvent::Progress { downloaded, .. } => {
                if let Some(bar) = bar.as_ref() {
                    bar.set_position(*downloaded);
                }
            }
            DownloadEvent::Verifying { file } => {
                if let Some(bar) = bar.as_ref() {
                    bar.set_message(format!("{file} (checking sha256)"));
                }
            }
            DownloadEvent::Cached { .. } | DownloadEvent::Done { .. } => {
                if let Some(old) = bar.take() {
                    old.finish_and_clear();
                }
            }
            _ => {}
        }
    })
}

/// Sampling and length flags of `slm run` and `slm chat`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SamplingArgs {
    /// Stop after this many generated tokens.
    #[arg(long = "max-tokens", short = 'n', value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_tokens: Option<u32>,
    /// Sampling temperature, >= 0 (0: greedy decoding).
    #[arg(long, value_name = "T")]
    pub temperature: Option<f32>,
    /// Nucleus sampling mass, in (0, 1].
    #[arg(long = "top-p", value_name = "P")]
    pub top_p: Option<f32>,
    /// Random seed, for reproducible sampling.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Stop before this text (repeatable).
    #[arg(long, value_name = "TEXT")]
    pub stop: Vec<String>,
    /// Speculative decoding with drafts looked up in the prompt (local models; faster when
    /// the answer copies the prompt, the same answer either way).
    #[arg(long = "prompt-lookup")]
    pub prompt_lookup: bool,
    /// Tokens a reasoning model may think before it must answer, as llama.cpp's flag: -1 no
    /// cap, 0 no thinking (the template's `enable_thinking` is false). Default: the model's.
    #[arg(long = "reasoning-budget", value_name = "N", allow_negative_numbers = true,
          value_parser = clap::value_parser!(i64).range(-1..=u32::MAX as i64))]
    pub reasoning_budget: Option<i64>,
}

impl SamplingArgs {
    /// The generation options these flags ask for, checked against their ranges.
    pub fn options(&self) -> anyhow::Result<slm::core::GenerationOptions> {
        let options = slm::core::GenerationOptions {
            max_tokens: self.max_tokens,
            temperature: self.temperature,
            top_p: self.top_p,
            seed: self.seed,
            stop: self.stop.clone(),
            prompt_lookup: self.prompt_lookup.then(slm::core::PromptLookup::default),
            thinking: self
                .reasoning_budget
                .and_then(|n| u32::try_from(n).ok())
                .map(slm::core::Thinking::budget),
            ..Default::default()
        };
        options.validate()?;
        Ok(options)
    }
}
