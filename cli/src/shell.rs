//! `ecr-steward completions SHELL` and `ecr-steward man [COMMAND]…`: the shell completions and
//! the man pages, from the clap definitions (the checked-in docs/completions and docs/man are
//! these same texts).

use anyhow::bail;
use clap::{Command, CommandFactory};
use clap_complete::Shell;

const BIN: &str = "ecr-steward";

fn command() -> Command {
    let mut command = crate::Cli::command();
    command.build();
    command
}

/// The completion script for `shell`.
pub fn completions(shell: Shell) -> String {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command(), BIN, &mut out);
    let script = String::from_utf8_lossy(&out).into_owned();
    if shell == Shell::Bash {
        // clap_complete 4.6 spells the bin name of its `case` arms with the subcommand
        // separator (`ecr__subcmd__steward__subcmd__audit`) but walks the words to
        // `ecr__steward__subcmd__audit`, so no subcommand's flags complete
        // (clap-rs/clap#6421, open). Spell the arms as the walk does.
        let walked = BIN.replace('-', "__");
        let arms = BIN.replace('-', "__subcmd__");
        return script.replace(&format!("{arms}__subcmd__"), &format!("{walked}__subcmd__"));
    }
    script
}

/// The man page of `ecr-steward` or of one of its commands (`["policy", "validate"]`).
pub fn man_page(path: &[String]) -> anyhow::Result<String> {
    let mut page = command();
    for name in path {
        let Some(sub) = page.find_subcommand(name).cloned() else {
            let known: Vec<&str> = page
                .get_subcommands()
                .map(Command::get_name)
                .filter(|n| *n != "help")
                .collect();
            bail!("no command `{}`; commands here: {}", name, known.join(", "));
        };
        page = sub;
    }
    let bin_name = std::iter::once(BIN)
        .chain(path.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    render_man(page, &bin_name)
}

/// The page for `command`, invoked as `bin_name` (`ecr-steward policy validate`) and named
/// after it (`ecr-steward-policy-validate`).
pub fn render_man(command: Command, bin_name: &str) -> anyhow::Result<String> {
    let title = bin_name.replace(' ', "-");
    let mut out = Vec::new();
    clap_mangen::Man::new(command.bin_name(bin_name))
        .title(&title)
        .render(&mut out)?;
    Ok(String::from_utf8(out)?)
}
