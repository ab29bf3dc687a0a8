//! The `trailmap` command: parse arguments, run the subcommand, map the outcome to an exit code
//! (0 success, 1 audit violations, 2 error or incomplete input).

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::init_logging(args.verbose, args.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("trailmap: error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(cli::run(args.command)) {
        Ok(outcome) => outcome.exit_code(),
        Err(e) => {
            eprintln!("trailmap: error: {}", describe(&e));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes on one line, skipping causes the message already quotes.
fn describe(error: &anyhow::Error) -> String {
    let mut message = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !message.contains(&cause) {
            message.push_str(": ");
            message.push_str(&cause);
        }
    }
    message
}
