//! `slm chat SPEC`: a multi-turn conversation in the terminal (or over a pipe: one user turn
//! per line of stdin). Replies stream to stdout; notices go to stderr.
//!
//! Commands: `/reset` clears the history, `/save FILE` writes the conversation as JSON
//! (`{"model": ..., "messages": [...]}`), `/help`, `/exit` (or end of input, Ctrl-D). Ctrl-C
//! stops a reply being generated; at the prompt it ends the chat.

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::Context;
use slm::core::{ChatRequest, GenerationOptions};
use slm::{Message, ModelSpec};

use crate::model_args::{ModelArgs, SamplingArgs};

/// Arguments of `slm chat`.
#[derive(Debug, clap::Args)]
#[command(after_help = "In the chat:\n  /reset      clear the conversation\n  \
    /save FILE  write the conversation as JSON\n  /help       list the commands\n  \
    /exit       leave (or Ctrl-D; Ctrl-C stops a reply)")]
pub struct ChatArgs {
    /// The model: `smollm2`, a GGUF path, `hf:owner/repo:Q4_K_M`, `openai:URL#MODEL`, `azure`,
    /// or a composition (`fallback:A,B`, `draft-refine:A,B`, `rag:INDEX,MODEL`).
    #[arg(value_name = "SPEC")]
    pub spec: ModelSpec,
    /// A system message that starts the conversation (kept by /reset).
    #[arg(long, short = 's', value_name = "TEXT")]
    pub system: Option<String>,
    /// Print token counts and timings to stderr after each reply.
    #[arg(long)]
    pub stats: bool,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    #[command(flatten)]
    pub model: ModelArgs,
}

const HELP: &str = "/reset: clear the conversation · /save FILE: write it as JSON · /exit: leave";

/// The conversation: the system message and the turns so far.
struct Conversation {
    system: Option<String>,
    messages: Vec<Message>,
}

impl Conversation {
    fn new(system: Option<String>) -> Self {
        let mut conversation = Conversation {
            system,
            messages: Vec::new(),
        };
        conversation.reset();
        conversation
    }

    fn reset(&mut self) {
        self.messages = self.system.iter().cloned().map(Message::system).collect();
    }

    fn save(&self, model: &str, path: &Path) -> anyhow::Result<()> {
        let json = serde_json::json!({ "model": model, "messages": self.messages });
        let text = serde_json::to_string_pretty(&json)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
    }
}

/// Runs `slm chat`.
pub async fn run(args: ChatArgs) -> anyhow::Result<u8> {
    let options = args.sampling.options()?;
    let opened = crate::model_args::open(&args.spec, &args.model.open_options(Some(1))).await?;
    let model = opened.model;
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        eprintln!("chatting with {} ({HELP})", model.id());
    }
    let mut conversation = Conversation::new(args.system.clone());
    let mut lines = stdin_lines();
    loop {
        if interactive {
            prompt();
        }
        // A fresh Ctrl-C listener per prompt: one pressed during a reply stops only the reply.
        let line = tokio::select! {
            _ = tokio::signal::ctrl_c() => {
                eprintln!();
                break;
            }
            line = lines.recv() => line,
        };
        let Some(line) = line else { break };
        let line = line.context("reading stdin")?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(command) = line.strip_prefix('/') {
            let (name, arg) = command
                .split_once(char::is_whitespace)
                .map_or((command, ""), |(n, a)| (n, a.trim()));
            match name {
                "exit" | "quit" | "q" => break,
                "reset" | "clear" => {
                    conversation.reset();
                    eprintln!("(conversation cleared)");
                }
                "save" if arg.is_empty() => eprintln!("usage: /save FILE"),
                "save" => match conversation.save(model.id(), Path::new(arg)) {
                    Ok(()) => {
                        let n = conversation.messages.len();
                        let plural = if n == 1 { "" } else { "s" };
                        eprintln!("(saved {n} message{plural} to {arg})");
                    }
                    Err(e) => eprintln!("error: {}", crate::error_chain(&e)),
                },
                "help" | "?" => eprintln!("{HELP}"),
                _ => eprintln!("unknown command /{name} ({HELP})"),
            }
            continue;
        }
        turn(
            model.as_ref(),
            &mut conversation,
            line,
            &options,
            args.stats,
        )
        .await;
    }
    Ok(0)
}

/// One user turn: streams the reply and keeps both in the history. An error is shown and the
/// turn forgotten; an interrupted reply is kept as far as it went.
async fn turn(
    model: &dyn slm::ChatModel,
    conversation: &mut Conversation,
    text: &str,
    options: &GenerationOptions,
    stats: bool,
) {
    conversation.messages.push(Message::user(text));
    let request = ChatRequest {
        messages: conversation.messages.clone(),
        options: options.clone(),
        ..Default::default()
    };
    match crate::run::stream_reply(model, request).await {
        Ok(reply) => {
            if reply.interrupted {
                eprintln!("(reply interrupted)");
            }
            if stats && let Some(response) = &reply.response {
                eprintln!("{}", crate::run::stats_line(response, reply.first_token));
            }
            let content = match reply.response {
                Some(response) if !reply.interrupted => response.message.content,
                _ => reply.text,
            };
            conversation.messages.push(Message::assistant(content));
        }
        Err(e) => {
            conversation.messages.pop();
            eprintln!("error: {}", crate::error_chain(&e));
        }
    }
}

/// Lines of stdin, read on a thread of their own: a read pending at exit (Ctrl-C at the
/// prompt) never holds the process (tokio's stdin would hold the runtime's shutdown).
fn stdin_lines() -> tokio::sync::mpsc::Receiver<std::io::Result<String>> {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let failed = line.is_err();
            if tx.blocking_send(line).is_err() || failed {
                break;
            }
        }
    });
    rx
}

fn prompt() {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(b"> ");
    let _ = out.flush();
}
