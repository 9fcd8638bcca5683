//! `invoke`: runs a function binary under the Lambda Runtime API emulator, on event files, and
//! prints each response or error as pretty JSON on stdout. The function's own output, and the
//! name of each event file, go to stderr.
//!
//! ```sh
//! invoke --function push-guard --env-file DIR/env --env STEWARD_TOPIC_ARN=arn:… events/*.json
//! ```
//!
//! Exit status: 0 when every event got a response, 1 when one got an error or the function
//! failed to initialise, 2 for a usage error.

// A test-bed tool, not production code: a failure should stop it loudly, so it may unwrap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use serde_json::Value;
use testbed::{read_env_file, target_dir, RuntimeApi};

#[derive(Debug, Parser)]
#[command(about = "Run a Lambda function binary on events, under a Runtime API emulator")]
struct Args {
    /// A workspace function (`push-guard`: target/debug/push-guard), or a path to a binary.
    #[arg(long, value_name = "NAME_OR_PATH")]
    function: String,
    /// A KEY=VALUE file, e.g. the test bed's DIR/env.
    #[arg(long, value_name = "FILE")]
    env_file: Option<PathBuf>,
    /// An extra variable for the function (repeatable; wins over --env-file).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = key_value)]
    env: Vec<(String, String)>,
    /// Event files (JSON), run in order.
    #[arg(required = true, value_name = "EVENT.json")]
    events: Vec<PathBuf>,
}

fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.into(), value.into())),
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("invoke: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> Result<ExitCode, String> {
    let binary = if args.function.contains('/') {
        PathBuf::from(&args.function)
    } else {
        target_dir().join("debug").join(&args.function)
    };
    if !binary.is_file() {
        return Err(format!(
            "{} is missing: run `cargo build --workspace` first",
            binary.display()
        ));
    }
    let mut env = match &args.env_file {
        Some(path) => read_env_file(path).map_err(|e| format!("{}: {e}", path.display()))?,
        None => Vec::new(),
    };
    env.extend(args.env);
    let mut events = Vec::new();
    for path in &args.events {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let event: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
        events.push(event);
    }
    let invocations = match RuntimeApi::invoke_binary(&binary, &env, events) {
        Ok(invocations) => invocations,
        Err(error) => {
            eprintln!("{error}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let mut failed = false;
    for (path, invocation) in args.events.iter().zip(&invocations) {
        failed |= invocation.response().is_none();
        let json = serde_json::to_string_pretty(&invocation.to_json()).unwrap_or_default();
        eprintln!("==> {}", path.display());
        println!("{json}");
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
