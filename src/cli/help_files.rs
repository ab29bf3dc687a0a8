//! `trailmap completions` and `trailmap man`: files generated from the command-line definition
//! itself, so they never drift from `--help`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::{Cli, Outcome};

/// The shell to write completions for.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, powershell or elvish.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Where to write the man pages.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write trailmap.1 and one page per subcommand (trailmap-query.1, ...) into this
    /// directory (created if missing). Without it, trailmap.1 goes to stdout.
    #[arg(short, long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

/// Writes the completion script for `args.shell` to stdout.
pub fn completions(args: CompletionsArgs) -> anyhow::Result<Outcome> {
    let mut command = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut command, "trailmap", &mut out);
    out.flush()?;
    Ok(Outcome::Success)
}

/// Writes the man pages (roff) to stdout or a directory.
pub fn man(args: ManArgs) -> anyhow::Result<Outcome> {
    let command = Cli::command();
    match args.out_dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(command, &dir)
                .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
        }
        None => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(command).render(&mut out)?;
            out.flush()?;
        }
    }
    Ok(Outcome::Success)
}
