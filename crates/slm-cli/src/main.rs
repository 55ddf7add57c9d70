//! `slm`: run, chat with, serve, evaluate, quantize and inspect small language models.
//! See `slm --help`.
#![forbid(unsafe_code)]

mod chat;
mod completions;
mod eval;
mod inspect;
mod model_args;
mod models;
mod quantize;
mod run;
mod serve;
mod table;
mod telemetry;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Run small language models locally, serve them over the OpenAI API, and compare them with
/// large hosted models.
#[derive(Debug, Parser)]
#[command(name = "slm", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Answer one prompt, streaming the reply to stdout.
    Run(run::RunArgs),
    /// Chat with a model in the terminal (multi-turn; /reset, /save FILE, /exit).
    Chat(chat::ChatArgs),
    /// Serve models over an OpenAI-compatible HTTP API.
    Serve(serve::ServeArgs),
    /// Evaluate models: prepare, run, compare, live.
    #[command(subcommand)]
    Eval(eval::EvalCommand),
    /// Quantize a GGUF model (q8_0, q4_k_m, ...).
    Quantize(quantize::QuantizeArgs),
    /// Show what a GGUF file holds: architecture, size, quantization, template.
    Inspect(inspect::InspectArgs),
    /// List the models slm knows and fetch them into the model cache.
    Models(models::ModelsArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::CompletionsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _telemetry = telemetry::init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => run::run(args).await,
            Command::Chat(args) => chat::run(args).await,
            Command::Serve(args) => serve::run(args).await,
            Command::Eval(command) => eval::run(command).await,
            Command::Quantize(args) => quantize::run(args).await,
            Command::Inspect(args) => inspect::run(args),
            Command::Models(command) => models::run(command).await,
            Command::Completions(args) => completions::run(args),
        }
    });
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes, `: `-separated, leaving out a cause whose text the message before
/// it already holds (many errors print their source in their own message: `HTTP 401: HTTP 401`,
/// `file: No such file: No such file`). Below an [`slm::Error`] that came from a backend the chain
/// stops: that error's message was written from the backend's typed error (its source), which
/// says the same failure again.
pub(crate) fn error_chain(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
        if cause
            .downcast_ref::<slm::Error>()
            .is_some_and(|e| e.backend_source().is_some())
        {
            break;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let wrapped = anyhow::Error::new(io).context("reading a.json: No such file");
        assert_eq!(super::error_chain(&wrapped), "reading a.json: No such file");
        let other = anyhow::anyhow!("disk full").context("writing b.json");
        assert_eq!(super::error_chain(&other), "writing b.json: disk full");
    }

    #[test]
    fn a_backend_error_behind_a_core_error_is_not_repeated() {
        // The core message is shorter than the backend's: without the stop, the chain would
        // read "rate limited: rate limited: slow down".
        let remote = slm::remote::RemoteError::RateLimited {
            retry_after: None,
            message: "slow down".into(),
        };
        let core = slm::Error::from(remote);
        let wrapped = anyhow::Error::new(core).context("asking gpt");
        assert_eq!(super::error_chain(&wrapped), "asking gpt: rate limited");
        let timeout = slm::Error::from(slm::remote::RemoteError::Timeout(
            std::time::Duration::from_secs(5),
        ));
        assert_eq!(
            super::error_chain(&anyhow::Error::new(timeout)),
            "timed out after 5s"
        );
    }
}
