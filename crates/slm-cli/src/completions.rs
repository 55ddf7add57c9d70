//! `slm completions SHELL`: a completion script for the shell, from clap's own description.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

/// Arguments of `slm completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    shell: Shell,
}

/// Writes the script to stdout, e.g. `slm completions bash > ~/.local/share/bash-completion/completions/slm`.
pub fn run(args: CompletionsArgs) -> anyhow::Result<u8> {
    let mut command = crate::Cli::command();
    clap_complete::generate(args.shell, &mut command, "slm", &mut std::io::stdout());
    Ok(0)
}
