//! `slm run SPEC "prompt"`: answers one prompt, streaming the reply to stdout as it is
//! generated. The prompt comes from the argument, or from stdin when it is `-` or absent (and
//! stdin is not a terminal). Ctrl-C stops the generation cleanly (exit 130).

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::StreamExt;
use slm::core::{ChatEvent, ChatRequest, ChatResponse, ResponseFormat};
use slm::{ChatModel, Message, ModelSpec};

use crate::model_args::{ModelArgs, SamplingArgs};

/// Exit code after Ctrl-C (128 + SIGINT), as shells report it.
pub const INTERRUPTED: u8 = 130;

/// Arguments of `slm run`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  slm run smollm2 \"What is the capital of France?\"\n  \
    echo \"Summarise: ...\" | slm run smollm2 --max-tokens 64 --stats\n  \
    slm run smollm2 \"A person\" --json-schema person.schema.json"
)]
pub struct RunArgs {
    /// The model: `smollm2`, a GGUF path, `hf:owner/repo:Q4_K_M`, `openai:URL#MODEL`, `azure`,
    /// or a composition (`fallback:A,B`, `draft-refine:A,B`, `rag:INDEX,MODEL`).
    #[arg(value_name = "SPEC")]
    pub spec: ModelSpec,
    /// The prompt; `-` or absent reads it from stdin.
    #[arg(value_name = "PROMPT")]
    pub prompt: Option<String>,
    /// A system message sent before the prompt.
    #[arg(long, short = 's', value_name = "TEXT")]
    pub system: Option<String>,
    /// Constrain the answer to JSON that validates against the JSON schema in FILE.
    #[arg(long = "json-schema", value_name = "FILE", conflicts_with = "json")]
    pub json_schema: Option<PathBuf>,
    /// Constrain the answer to a JSON object.
    #[arg(long)]
    pub json: bool,
    /// Print token counts and timings (TTFT, tokens/s) to stderr at the end.
    #[arg(long)]
    pub stats: bool,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Runs `slm run`.
pub async fn run(args: RunArgs) -> anyhow::Result<u8> {
    let prompt = read_prompt(args.prompt.as_deref())?;
    let response_format = match (&args.json_schema, args.json) {
        (Some(file), _) => schema_format(file)?,
        (None, true) => ResponseFormat::Json,
        (None, false) => ResponseFormat::Text,
    };
    let mut messages = Vec::new();
    if let Some(system) = &args.system {
        messages.push(Message::system(system.clone()));
    }
    messages.push(Message::user(prompt));
    let request = ChatRequest {
        messages,
        response_format,
        options: args.sampling.options()?,
        ..Default::default()
    };
    let opened = crate::model_args::open(&args.spec, &args.model.open_options(Some(1))).await?;
    let reply = stream_reply(opened.model.as_ref(), request).await?;
    if args.stats
        && let Some(response) = &reply.response
    {
        eprintln!("{}", stats_line(response, reply.first_token));
    }
    if reply.interrupted {
        eprintln!("interrupted");
        return Ok(INTERRUPTED);
    }
    Ok(0)
}

/// The prompt from the argument, or stdin for `-` / none (refused when stdin is a terminal
/// and no prompt was given).
fn read_prompt(arg: Option<&str>) -> anyhow::Result<String> {
    let prompt = match arg {
        Some(text) if text != "-" => text.to_string(),
        _ => {
            let stdin = std::io::stdin();
            if arg.is_none() && stdin.is_terminal() {
                bail!("no prompt: give it as an argument, or pipe it on stdin (`-`)");
            }
            let mut text = String::new();
            stdin
                .lock()
                .read_to_string(&mut text)
                .context("reading the prompt from stdin")?;
            text
        }
    };
    if prompt.trim().is_empty() {
        bail!("the prompt is empty");
    }
    Ok(prompt)
}

/// A strict JSON-schema format from a schema file.
pub fn schema_format(file: &std::path::Path) -> anyhow::Result<ResponseFormat> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading the JSON schema {}", file.display()))?;
    let schema: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", file.display()))?;
    if !schema.is_object() {
        bail!("{} must hold a JSON schema object", file.display());
    }
    let name: String = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = if name.is_empty() {
        "answer".into()
    } else {
        name
    };
    Ok(ResponseFormat::json_schema(name, schema))
}

/// What streaming one reply gave.
pub struct Reply {
    /// The text printed.
    pub text: String,
    /// The final response (usage, timings), unless interrupted.
    pub response: Option<ChatResponse>,
    /// Ctrl-C stopped the generation.
    pub interrupted: bool,
    /// When the first text arrived, from the request, by this process's clock.
    pub first_token: Option<Duration>,
}

/// Streams a reply to stdout, flushing every piece; Ctrl-C drops the stream (which cancels the
/// generation) and returns what was printed. A closed stdout (`| head`) ends it quietly. Ends
/// the output with a newline.
pub async fn stream_reply(model: &dyn ChatModel, request: ChatRequest) -> anyhow::Result<Reply> {
    let started = Instant::now();
    let mut reply = Reply {
        text: String::new(),
        response: None,
        interrupted: false,
        first_token: None,
    };
    let mut stream = model.chat_stream(request);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut stdout_open = true;
    let mut thinking = ThinkingView::default();
    loop {
        let event = tokio::select! {
            biased;
            _ = &mut ctrl_c => {
                reply.interrupted = true;
                break;
            }
            event = stream.next() => event,
        };
        match event {
            None => bail!("the model's stream ended without a final answer"),
            Some(Err(e)) => {
                finish_line(&reply.text);
                return Err(anyhow::Error::new(e).context(format!("model {}", model.id())));
            }
            Some(Ok(ChatEvent::ReasoningDelta(delta))) => {
                reply.first_token.get_or_insert_with(|| started.elapsed());
                thinking.show(&delta);
            }
            Some(Ok(ChatEvent::TextDelta(delta))) => {
                thinking.end();
                reply.first_token.get_or_insert_with(|| started.elapsed());
                reply.text.push_str(&delta);
                if stdout_open && let Err(e) = print_flush(&delta) {
                    if e.kind() == std::io::ErrorKind::BrokenPipe {
                        stdout_open = false;
                        break;
                    }
                    return Err(anyhow::Error::new(e).context("writing to stdout"));
                }
            }
            Some(Ok(ChatEvent::ToolCallDelta { .. })) => {}
            Some(Ok(ChatEvent::Done(response))) => {
                thinking.end();
                // A model that does not stream text (tool calls only) still shows its calls.
                if reply.text.is_empty() && !response.message.tool_calls.is_empty() {
                    let calls = serde_json::to_string_pretty(&response.message.tool_calls)?;
                    reply.text = calls.clone();
                    let _ = print_flush(&calls);
                }
                reply.response = Some(*response);
                break;
            }
        }
    }
    drop(stream);
    if stdout_open {
        finish_line(&reply.text);
    }
    Ok(reply)
}

/// A reasoning model's thinking, shown on stderr (dimmed on a terminal) so stdout holds the
/// answer alone.
#[derive(Default)]
struct ThinkingView {
    open: bool,
}

impl ThinkingView {
    fn show(&mut self, text: &str) {
        let mut err = std::io::stderr().lock();
        if !self.open {
            self.open = true;
            if err.is_terminal() {
                let _ = err.write_all(b"\x1b[2m");
            }
        }
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
    }

    fn end(&mut self) {
        if std::mem::take(&mut self.open) {
            let mut err = std::io::stderr().lock();
            let reset: &[u8] = if err.is_terminal() {
                b"\x1b[0m\n"
            } else {
                b"\n"
            };
            let _ = err.write_all(reset);
            let _ = err.flush();
        }
    }
}

fn print_flush(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Ends the line the reply left open.
fn finish_line(text: &str) {
    if !text.is_empty() && !text.ends_with('\n') {
        let _ = print_flush("\n");
    }
}

/// `prompt 31 tok · completion 16 tok · TTFT 42 ms · decode 180.2 tok/s · total 0.13 s`.
pub fn stats_line(response: &ChatResponse, first_token: Option<Duration>) -> String {
    let t = &response.timings;
    let ttft = if t.time_to_first_token > Duration::ZERO {
        Some(t.time_to_first_token)
    } else {
        first_token
    };
    let mut parts = vec![
        format!("model {}", response.model),
        format!("prompt {} tok", response.usage.prompt_tokens),
        format!("completion {} tok", response.usage.completion_tokens),
    ];
    if let Some(ttft) = ttft {
        parts.push(format!("TTFT {:.0} ms", ttft.as_secs_f64() * 1000.0));
    }
    if let Some(rate) = t.prompt_tokens_per_second {
        parts.push(format!("prompt {rate:.1} tok/s"));
    }
    let decode = t.decode_tokens_per_second.or_else(|| {
        let after_first = t.total.checked_sub(ttft.unwrap_or_default())?;
        slm::core::Timings::rate(
            response.usage.completion_tokens.saturating_sub(1),
            after_first,
        )
    });
    if let Some(rate) = decode {
        parts.push(format!("decode {rate:.1} tok/s"));
    }
    if let Some(s) = t.speculation {
        parts.push(format!("drafts {}/{} accepted", s.accepted, s.drafted));
    }
    parts.push(format!("total {:.2} s", t.total.as_secs_f64()));
    parts.push(format!("finish {:?}", response.finish_reason).to_lowercase());
    parts.join(" · ")
}
