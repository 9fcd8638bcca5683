//! The CLI reference, generated from the clap definitions themselves: docs/cli.md (every
//! command, argument, default, choice and environment variable), the man pages (docs/man/,
//! clap_mangen) and the shell completions (docs/completions/, clap_complete). The test fails
//! when a checked-in file differs from what the definitions give, or when a file is left over
//! from a command that is gone. To regenerate them all:
//!
//! ```sh
//! UPDATE_CLI_REFERENCE=1 cargo test -p ecr-steward-cli --bin ecr-steward reference
//! ```

// A unit test of the binary crate (it reads the binary's own `Cli`), with the generators of
// `ecr-steward completions` and `ecr-steward man` (cli/src/shell.rs).
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction, Command, CommandFactory};
use clap_complete::Shell;

const UPDATE: &str = "UPDATE_CLI_REFERENCE";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn command() -> Command {
    let mut command = crate::Cli::command();
    command.build();
    command
}

/// Every generated file, by its path from the repository's root.
fn generate() -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    files.insert("docs/cli.md".into(), markdown(&command()));
    for (shell, name) in [
        (Shell::Bash, "ecr-steward.bash"),
        (Shell::Zsh, "_ecr-steward"),
        (Shell::Fish, "ecr-steward.fish"),
    ] {
        files.insert(
            format!("docs/completions/{name}"),
            crate::shell::completions(shell),
        );
    }
    man_pages(&command(), "ecr-steward", &mut files);
    files
}

/// One page per command: ecr-steward.1, ecr-steward-check.1, ecr-steward-policy-validate.1, …
fn man_pages(command: &Command, path: &str, files: &mut BTreeMap<String, String>) {
    let name = path.replace(' ', "-");
    files.insert(
        format!("docs/man/{name}.1"),
        crate::shell::render_man(command.clone(), path).expect("render the man page"),
    );
    for sub in visible_subcommands(command) {
        man_pages(sub, &format!("{path} {}", sub.get_name()), files);
    }
}

fn visible_subcommands(command: &Command) -> impl Iterator<Item = &Command> {
    command
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set() && sub.get_name() != "help")
}

fn markdown(command: &Command) -> String {
    let mut out = String::from(
        "<!-- Generated from the clap definitions by cli/src/reference.rs; do not edit. -->\n\
         <!-- Regenerate: UPDATE_CLI_REFERENCE=1 cargo test -p ecr-steward-cli --bin ecr-steward reference -->\n\n\
         # `ecr-steward` command-line reference\n\n",
    );
    if let Some(about) = command.get_about() {
        let _ = writeln!(out, "{about}\n");
    }
    out.push_str(
        "Man pages: `docs/man/`. Shell completions: `docs/completions/` (bash, zsh, fish). \
         The [CLI guide](cli-guide.md) explains exit codes, formats and examples.\n\n",
    );
    let _ = writeln!(
        out,
        "Exit codes (every command; the CLI guide says which a command uses):\n"
    );
    for exit in crate::exit::Exit::ALL {
        let _ = writeln!(out, "- **{}**: {}", exit.code(), exit.meaning());
    }
    out.push('\n');
    let _ = writeln!(out, "Commands:\n");
    commands_list(command, "ecr-steward", &mut out);
    out.push('\n');
    command_section(command, "ecr-steward", &mut out);
    out
}

fn commands_list(command: &Command, path: &str, out: &mut String) {
    for sub in visible_subcommands(command) {
        let full = format!("{path} {}", sub.get_name());
        let _ = writeln!(
            out,
            "- [`{full}`](#{}): {}",
            full.replace(' ', "-"),
            sub.get_about().map(|a| a.to_string()).unwrap_or_default()
        );
        commands_list(sub, &full, out);
    }
}

fn command_section(command: &Command, path: &str, out: &mut String) {
    let has_subcommands = visible_subcommands(command).next().is_some();
    if path != "ecr-steward" {
        let _ = writeln!(out, "## {path}\n");
        if let Some(about) = command.get_long_about().or(command.get_about()) {
            let _ = writeln!(out, "{about}\n");
        }
    }
    let usage = command
        .clone()
        .bin_name(path)
        .render_usage()
        .to_string()
        .replace("Usage: ", "");
    let _ = writeln!(out, "```\n{usage}\n```\n");
    let args: Vec<&Arg> = command
        .get_arguments()
        .filter(|arg| !arg.is_hide_set())
        .collect();
    if !args.is_empty() {
        out.push_str("| argument | meaning |\n|---|---|\n");
        for arg in args {
            let _ = writeln!(out, "| {} | {} |", arg_name(arg), arg_meaning(arg));
        }
        out.push('\n');
    }
    if has_subcommands {
        for sub in visible_subcommands(command) {
            command_section(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }
}

fn arg_name(arg: &Arg) -> String {
    let value = arg
        .get_value_names()
        .map(|names| names.join(" "))
        .unwrap_or_else(|| arg.get_id().as_str().to_uppercase());
    let takes_value = matches!(arg.get_action(), ArgAction::Set | ArgAction::Append);
    match (arg.get_long(), arg.get_short()) {
        (Some(long), short) => {
            let short = short.map(|s| format!("`-{s}`, ")).unwrap_or_default();
            if takes_value {
                format!("{short}`--{long} {value}`")
            } else {
                format!("{short}`--{long}`")
            }
        }
        (None, Some(short)) => format!("`-{short}`"),
        (None, None) => format!("`{value}`"),
    }
}

fn arg_meaning(arg: &Arg) -> String {
    let mut parts = Vec::new();
    let help = arg
        .get_long_help()
        .or(arg.get_help())
        .map(|h| h.to_string().replace('\n', " "))
        .unwrap_or_default();
    if !help.is_empty() {
        let end = if help.ends_with('.') { "" } else { "." };
        parts.push(format!("{help}{end}"));
    }
    if arg.is_required_set() {
        parts.push("Required.".into());
    }
    if matches!(arg.get_action(), ArgAction::Append) && !help.contains("repeatable") {
        parts.push("Repeatable.".into());
    }
    let values: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| format!("`{}`", v.get_name()))
        .collect();
    if !values.is_empty() && !matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse) {
        parts.push(format!("One of {}.", values.join(", ")));
    }
    let defaults: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|v| format!("`{}`", v.to_string_lossy()))
        .collect();
    if !defaults.is_empty() && !matches!(arg.get_action(), ArgAction::SetTrue) {
        parts.push(format!("Default {}.", defaults.join(", ")));
    }
    if let Some(env) = arg.get_env() {
        parts.push(format!("Environment `{}`.", env.to_string_lossy()));
    }
    parts.join(" ").replace('|', "\\|")
}

/// Files in a generated directory that nothing generates any more (a removed command's page).
fn leftovers(files: &BTreeMap<String, String>) -> Vec<String> {
    let mut stale = Vec::new();
    for dir in ["docs/man", "docs/completions"] {
        let Ok(entries) = std::fs::read_dir(root().join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = format!("{dir}/{}", entry.file_name().to_string_lossy());
            if !files.contains_key(&path) {
                stale.push(path);
            }
        }
    }
    stale
}

#[test]
fn the_checked_in_cli_reference_is_what_the_clap_definitions_give() {
    let files = generate();
    if std::env::var_os(UPDATE).is_some_and(|v| !v.is_empty()) {
        for stale in leftovers(&files) {
            std::fs::remove_file(root().join(&stale)).expect("remove a stale file");
            eprintln!("removed {stale}");
        }
        for (path, text) in &files {
            let path = root().join(path);
            std::fs::create_dir_all(path.parent().expect("a directory")).expect("mkdir");
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                std::fs::write(&path, text).expect("write the reference");
                eprintln!("wrote {}", path.display());
            }
        }
        return;
    }
    let mut drift: Vec<String> = files
        .iter()
        .filter(|(path, text)| {
            std::fs::read_to_string(root().join(path)).ok().as_deref() != Some(text.as_str())
        })
        .map(|(path, _)| format!("{path} differs from the clap definitions (or is missing)"))
        .collect();
    drift.extend(
        leftovers(&files)
            .into_iter()
            .map(|path| format!("{path} is generated by nothing")),
    );
    assert!(
        drift.is_empty(),
        "the CLI reference has drifted from the flags:\n  {}\nregenerate it: {UPDATE}=1 cargo test -p ecr-steward-cli --bin ecr-steward reference",
        drift.join("\n  ")
    );
}

#[test]
fn the_reference_names_every_command_and_flag() {
    let page = markdown(&command());
    for expected in [
        "## ecr-steward check",
        "## ecr-steward gate",
        "## ecr-steward iam pipeline",
        "## ecr-steward policy validate",
        "`--summary FILE`",
        "`--format FORMAT`",
        "`markdown`",
        "Environment `STEWARD_POLICY_FILE`.",
    ] {
        assert!(page.contains(expected), "{expected:?} missing:\n{page}");
    }
}
