//! Every shell command the docs tell a user to run, run (or, where it cannot run here, checked)
//! by this test, on the docs' own example policy.
//!
//! The commands are the ```sh / ```bash / ```shell / ```console blocks of README.md and of every
//! chapter under docs/ (not the generated docs/cli.md), split as the shell splits them
//! ([`logicals`]: `\` and trailing `&&`/`|` continuations, loops, function bodies, `$(…)`,
//! `<(…)`, here-documents). Each chapter runs in order in one terminal: its shell functions,
//! variables and directory carry from one command to the next. It starts in a directory that
//! holds a clone's template.yaml and samconfig.toml and `policy.yaml` = the example policy that
//! docs/policy.md opens with. A chapter that replaces `policy.yaml` (the 5-minute path's
//! `policy show-default > policy.yaml`) goes on with what it wrote, as a reader's would, and its
//! later commands that read `policy.yaml` run again on the example policy.
//!
//! - `ecr-steward` runs for real, the built binary, against the local test bed: moto and the
//!   ECR-like registries, with `team/web` as the docs name it (`v1.4.2`, `1.4.2`, `latest`;
//!   labelled, scanned clean). It must exit 0 unless [`EXPECTED`] says otherwise, with the
//!   evidence the docs give. The example policy's second replication destination (account
//!   210987654321, eu-central-1) is moto's eu-central-1 and the test bed's eu-west-1 registry.
//! - Every other program is in [`PROGRAMS`], with how it is covered. jq, coreutils and shell
//!   builtins run. `aws` runs against moto when an AWS CLI is installed, for the calls in
//!   [`AWS_RUN`] (moto holds a stand-in stack with the template's outputs, its queues, topic,
//!   function and the policy bucket); every `aws` command is also checked against botocore's
//!   models (service, operation or waiter, options, required options, `--query`). `sam` goes
//!   through SAM CLI's own option parser (samconfig.toml, `file://` parameter files) and its
//!   parameters through the template's Parameters and Rules; a `file://` parameter file, or
//!   `PolicyDocument=$(cat policy.json)`, must give exactly the JSON `policy parameter` prints.
//!   `gh release download` stands in for itself with a release as release.yml names its files
//!   (the template from scripts/release-template, a true SHA256SUMS), so `sha256sum --check` and
//!   the release-template commands run on it; `make`, `cargo`, `gh attestation` and `mdbook` are
//!   checked against the files they name. The checkers are shown to refuse wrong commands.
//! - A program in no table, a `<placeholder>` with no value, or a documented command that
//!   exits otherwise than promised fails the test; so does an [`EXPECTED`] or [`NOT_RUN`] entry
//!   that no documented command matches any more.

// An integration test: a failed step is a failed test, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};
use testbed::{event_from_sample, function_binary, workspace_root, PushSpec, ScanResult, Stack};

const US: &str = "us-east-1";

// ---------------------------------------------------------------- the tables

/// Documented `ecr-steward` commands (and other commands run here) whose exit code is not 0, as
/// the docs promise it: `(command as the docs write it, exit code, what the output must say)`.
/// An entry no documented command matches fails the test.
const EXPECTED: &[(&str, i32, &str)] = &[
    // "exit 1: `latest` is denied" (README), "exit 1: a tag violates" (getting-started)
    (
        "ecr-steward check --policy policy.yaml --repository team/web --tag latest --tag v1.4.2",
        1,
        "tag `latest` is denied",
    ),
    (
        "ecr-steward check --policy policy.yaml --repository team/web --tag latest --tag v1.4.2 --tag sha-4f9c2e1",
        1,
        "tag `latest` is denied",
    ),
    // "1: findings": team/web carries `latest`, and the example policy asks for settings and
    // replicas that the test bed's repository does not have.
    (
        "ecr-steward audit --policy policy.yaml --region us-east-1 --repository 'team/*'",
        1,
        "tag.literals.deny",
    ),
    (
        "ecr-steward audit --policy policy.yaml --region us-east-1 --region eu-west-1",
        1,
        "tag.literals.deny",
    ),
    // The findings go to findings.csv; checked there (`check_written_files`).
    (
        "ecr-steward audit --policy policy.yaml --repository 'team/*' --format csv > findings.csv",
        1,
        "",
    ),
];

/// Documented `ecr-steward` commands this test does not run, with the reason. Keep it short:
/// every other `ecr-steward` command runs.
const NOT_RUN: &[(&str, &str)] = &[];

/// How a program is covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coverage {
    /// Runs for real here, in the reader's directory.
    Run,
    /// Runs for real when it is installed here; otherwise checked by `check_other`.
    IfInstalled,
    /// Runs for real against moto when an AWS CLI is installed, for the calls in [`AWS_RUN`];
    /// otherwise, and for the other calls, checked against botocore's service models.
    Aws,
    /// Checked by `check_other` (which may run it, where it can run here).
    Check,
}

/// Every program a documented command may name, and how it is covered.
const PROGRAMS: &[(&str, Coverage, &str)] = &[
    (
        "ecr-steward",
        Coverage::Run,
        "the built binary, against the test bed",
    ),
    ("jq", Coverage::Run, "on what the commands before it print"),
    ("cat", Coverage::Run, "coreutils"),
    (
        "mkdir",
        Coverage::Run,
        "coreutils, under a HOME made for the test",
    ),
    (
        "sha256sum",
        Coverage::Run,
        "coreutils, on the release's stand-in files",
    ),
    ("grep", Coverage::Run, "on the release's stand-in files"),
    ("sed", Coverage::Run, "on what the commands before it print"),
    (
        "diff",
        Coverage::Run,
        "on what the commands before it print",
    ),
    ("echo", Coverage::Run, "shell builtin"),
    ("read", Coverage::Run, "shell builtin"),
    (
        "cd",
        Coverage::Run,
        "shell builtin; the directory carries to the next command",
    ),
    ("source", Coverage::Run, "shell builtin"),
    ("break", Coverage::Run, "shell builtin"),
    ("man", Coverage::IfInstalled, "reads the page from stdin"),
    (
        "aws",
        Coverage::Aws,
        "AWS CLI against moto (when installed); always botocore's models",
    ),
    (
        "sam",
        Coverage::Check,
        "SAM CLI's own option parser, and the template's parameters and Rules",
    ),
    (
        "--parameter-overrides",
        Coverage::Check,
        "an option of `sam deploy`, shown alone: checked as `sam deploy` would read it",
    ),
    (
        "make",
        Coverage::Check,
        "`make -n`: the target and its script",
    ),
    (
        "cargo",
        Coverage::Check,
        "the package and its binary, or the same command in CI",
    ),
    (
        "gh",
        Coverage::Check,
        "the repository, tag, assets and attestations the release workflow makes",
    ),
    (
        "mdbook",
        Coverage::Check,
        "run in the clone when installed; else docs/book.toml",
    ),
];

/// The AWS CLI calls that run against moto when an AWS CLI is installed: `(service, command)`.
/// moto holds what they need (setup.py): the stack's outputs (a stand-in stack `ecr-steward`
/// in us-east-1 and eu-west-1), its queues, topic and push-guard function, the policy bucket.
/// Other calls (deploying, reading what only a deployed stack has) are checked against
/// botocore's models.
const AWS_RUN: &[(&str, &str)] = &[
    ("cloudformation", "describe-stacks"),
    ("s3", "cp"),
    ("ssm", "put-parameter"),
    ("sns", "list-subscriptions-by-topic"),
    ("sns", "set-subscription-attributes"),
    ("sqs", "receive-message"),
    ("sqs", "delete-message"),
    ("lambda", "invoke"),
];

/// `make` targets: why `make -n` is the check and not a run.
const MAKE_TARGETS: &[(&str, &str)] = &[
    (
        "demo",
        "it runs `cargo build`, which would wait on the lock of the `cargo test` running this test",
    ),
    ("test", "it is the suite this test is part of"),
];

/// What a variable would hold when the command that sets it cannot run here (no AWS CLI), where
/// a later command that runs needs it: `(variable, a word of the command that sets it, the
/// set-up value it stands for)`.
const STAND_INS: &[(&str, &str, &str)] = &[
    ("queue", "CopyJobQueueUrl", "copy_queue"),
    ("queue", "FailureQueueUrl", "failure_queue"),
    ("function", "PushGuardFunctionArn", "function_arn"),
];

/// Files a command reads that a command this test does not run would have written:
/// `(file, what stands for it)`.
const STAND_IN_FILES: &[(&str, &str)] = &[(
    "packaged.yaml",
    "the template `sam package` or `aws cloudformation package` writes: the release template",
)];

/// Labels that satisfy the built-in policy (which `gate` uses when no --policy is given) and the
/// example policy.
const LABELS: &[(&str, &str)] = &[
    (
        "org.opencontainers.image.source",
        "https://github.com/acme/web",
    ),
    (
        "org.opencontainers.image.revision",
        "4f9c2e1d0c3b2a1908f7e6d5c4b3a29180f7e6d5",
    ),
    ("org.opencontainers.image.created", "2026-11-20T21:36:07Z"),
    ("org.opencontainers.image.version", "1.4.2"),
    ("org.opencontainers.image.licenses", "Apache-2.0"),
];

// ---------------------------------------------------------------- the docs' blocks

const SHELL_LANGUAGES: &[&str] = &["sh", "bash", "shell", "console", "shell-session", "zsh"];

/// A fenced shell block: where it is and its text (indentation of a list item removed).
#[derive(Debug, Clone)]
struct Block {
    file: String,
    /// 1-based line of its first line of text.
    line: usize,
    text: String,
}

/// README.md, then the chapters in docs/SUMMARY.md's order, then any other docs/**/*.md; not
/// the generated docs/cli.md.
fn doc_files() -> Vec<String> {
    let root = workspace_root();
    let mut files = vec!["README.md".to_string()];
    let summary = std::fs::read_to_string(root.join("docs/SUMMARY.md")).unwrap();
    for part in summary.split("](").skip(1) {
        if let Some(end) = part.find(')') {
            let target = &part[..end];
            if target.ends_with(".md") && !target.contains("://") {
                files.push(format!("docs/{target}"));
            }
        }
    }
    fn walk(dir: &Path, found: &mut Vec<String>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "md") {
                let relative = path.strip_prefix(workspace_root()).unwrap();
                found.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    walk(&root.join("docs"), &mut files);
    let mut seen = BTreeSet::new();
    files.retain(|f| f != "docs/cli.md" && f != "docs/SUMMARY.md" && seen.insert(f.clone()));
    files
}

/// The shell blocks of a markdown file. Blocks inside another fence (a ````markdown example)
/// are text, not blocks. In a ```console block only the `$ ` lines (and their `\`
/// continuations) are commands.
fn shell_blocks(file: &str, text: &str) -> Vec<Block> {
    struct Open {
        marker: char,
        run: usize,
        indent: usize,
        language: String,
        line: usize,
        lines: Vec<String>,
    }
    let mut blocks = Vec::new();
    let mut open: Option<Open> = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let marker = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
        let run = marker.map_or(0, |m| trimmed.chars().take_while(|c| *c == m).count());
        let closes = match &open {
            Some(o) => marker == Some(o.marker) && run >= o.run && trimmed[run..].trim().is_empty(),
            None => false,
        };
        if closes {
            let o = open.take().unwrap();
            let language = o.language.split([' ', ',', '{']).next().unwrap_or("");
            if SHELL_LANGUAGES.contains(&language) {
                let mut text = o.lines.join("\n");
                if language == "console" || language == "shell-session" {
                    text = console_commands(&text);
                }
                blocks.push(Block {
                    file: file.to_string(),
                    line: o.line,
                    text: text + "\n",
                });
            }
        } else if let Some(o) = open.as_mut() {
            let strip = line
                .char_indices()
                .take_while(|(i, c)| *i < o.indent && *c == ' ')
                .count();
            o.lines.push(line[strip..].to_string());
        } else if let Some(m) = marker.filter(|_| run >= 3) {
            open = Some(Open {
                marker: m,
                run,
                indent,
                language: trimmed[run..].trim().to_string(),
                line: index + 2,
                lines: Vec::new(),
            });
        }
    }
    assert!(open.is_none(), "{file}: a code block is not closed");
    blocks
}

/// A console block's commands: `$ ` lines and the lines that continue them; output lines
/// become blank (so that line numbers stay).
fn console_commands(text: &str) -> String {
    let mut continued = false;
    text.lines()
        .map(|line| {
            let command = if let Some(command) = line.strip_prefix("$ ") {
                Some(command)
            } else if continued {
                Some(line)
            } else {
                None
            };
            continued = command.is_some_and(|c| c.trim_end().ends_with('\\'));
            command.unwrap_or("").to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------- splitting shell as bash does

/// One simple command: its words (quotes removed; `$(…)` and `$var` as written), the names it
/// assigns, where it is in the block's text, and how deep (0: top level; more: inside a loop, a
/// function body or a `$(…)`).
#[derive(Debug, Clone, Default)]
struct Simple {
    words: Vec<String>,
    /// The words as written, for bash to expand.
    raw: Vec<String>,
    assigns: Vec<String>,
    span: Range<usize>,
    depth: usize,
    /// The top-level pipeline it belongs to (an index into `Logical::pipelines`).
    pipeline: usize,
}

impl Simple {
    fn program(&self) -> Option<&str> {
        self.words.first().map(String::as_str)
    }
}

/// What a reader types as one command: one line, or several joined by `\`, by a trailing
/// `&&`, `||` or `|`, or by an open loop or function body.
#[derive(Debug, Clone, Default)]
struct Logical {
    span: Range<usize>,
    simples: Vec<Simple>,
    /// The spans of its top-level pipelines, split at `&&`, `||`, `;` and `&`.
    pipelines: Vec<Range<usize>>,
    /// The shell functions it defines.
    defines: Vec<String>,
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    comments: Vec<Range<usize>>,
    /// Here-documents whose bodies start after this line: (delimiter, `<<-`).
    heredocs: Vec<(String, bool)>,
}

#[derive(Default)]
struct ListState {
    current: Simple,
    started: bool,
    open: Vec<&'static str>,
    pending: bool,
    skip_for: bool,
    pipeline: usize,
    pipeline_span: Option<Range<usize>>,
    last_end: usize,
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) {
        if let Some(c) = self.peek() {
            self.pos += c.len_utf8();
        }
    }

    fn skip_space(&mut self) {
        loop {
            if self.rest().starts_with("\\\n") {
                self.pos += 2;
            } else if matches!(self.peek(), Some(' ' | '\t' | '\r')) {
                self.bump();
            } else {
                return;
            }
        }
    }

    fn skip_comment(&mut self) {
        let start = self.pos;
        let end = self
            .rest()
            .find('\n')
            .map_or(self.src.len(), |i| self.pos + i);
        self.pos = end;
        self.comments.push(start..end);
    }

    /// Parses commands until the end of a top-level logical command (`top`), or until the `)`
    /// that closes a `$(` (not consumed). Simple commands go to `out`.
    fn list(&mut self, top: bool, depth: usize, out: &mut Logical) {
        let mut st = ListState::default();
        loop {
            self.skip_space();
            let Some(c) = self.peek() else {
                self.finish(&mut st, depth, out);
                break;
            };
            match c {
                '#' => self.skip_comment(),
                '\n' => {
                    self.finish(&mut st, depth, out);
                    self.bump();
                    if self.heredoc_bodies() {
                        st.last_end = self.pos.saturating_sub(1);
                        if let Some(span) = st.pipeline_span.as_mut() {
                            span.end = st.last_end;
                        }
                    }
                    if top && st.open.is_empty() && !st.pending {
                        break;
                    }
                }
                ')' => {
                    self.finish(&mut st, depth, out);
                    if st.open.last() == Some(&"(") {
                        st.open.pop();
                        self.bump();
                        st.last_end = self.pos;
                    } else if !top {
                        break;
                    } else {
                        panic!("an unbalanced `)` in {:?}", self.src);
                    }
                }
                '(' => {
                    let after = self.rest()[1..].trim_start_matches([' ', '\t']);
                    if st.current.words.len() == 1
                        && st.current.assigns.is_empty()
                        && after.starts_with(')')
                    {
                        // `name() { … }`: a function definition, not a command.
                        out.defines.push(st.current.words.remove(0));
                        st.started = false;
                        st.current = Simple::default();
                        let close = self.rest().find(')').unwrap();
                        self.pos += close + 1;
                    } else {
                        self.finish(&mut st, depth, out);
                        st.open.push("(");
                        self.bump();
                    }
                    st.last_end = self.pos;
                }
                '<' | '>' if self.rest()[1..].starts_with('(') => {
                    // `<(…)`: a process substitution, a word.
                    let start = self.pos;
                    let word = self.substitution(depth + st.open.len() + 1, st.pipeline, out);
                    self.add_word(&mut st, word, start, depth, out);
                }
                '<' | '>' => self.redirect(&mut st, depth, out),
                '&' if self.rest().starts_with("&>") => self.redirect(&mut st, depth, out),
                '|' | '&' | ';' => {
                    let op = ["&&", "||", "|&", ";;", "|", "&", ";"]
                        .into_iter()
                        .find(|op| self.rest().starts_with(op))
                        .unwrap();
                    self.finish(&mut st, depth, out);
                    self.pos += op.len();
                    st.last_end = self.pos;
                    let splits = matches!(op, "&&" | "||" | ";" | "&");
                    st.pending = matches!(op, "&&" | "||" | "|" | "|&");
                    if splits && top && st.open.is_empty() {
                        self.close_pipeline(&mut st, out);
                    }
                }
                _ => {
                    let start = self.pos;
                    let word = self.word(depth + st.open.len() + 1, st.pipeline, out);
                    let fd = !word.is_empty()
                        && word.chars().all(|c| c.is_ascii_digit())
                        && matches!(self.peek(), Some('<' | '>'));
                    if fd {
                        // `2>`: the descriptor of a redirection.
                        self.touch(&mut st, start);
                        continue;
                    }
                    self.add_word(&mut st, word, start, depth, out);
                }
            }
        }
        if top {
            self.close_pipeline(&mut st, out);
        }
    }

    fn touch(&self, st: &mut ListState, start: usize) {
        if !st.started {
            st.started = true;
            st.current.span = start..start;
        }
        let span = st.pipeline_span.get_or_insert(start..start);
        span.end = self.pos;
        st.last_end = self.pos;
        st.pending = false;
    }

    fn add_word(
        &mut self,
        st: &mut ListState,
        word: String,
        start: usize,
        depth: usize,
        out: &mut Logical,
    ) {
        let at_command = st.current.words.is_empty();
        if st.skip_for {
            st.skip_for = word != "do";
            st.last_end = self.pos;
            return;
        }
        if at_command {
            match word.as_str() {
                "while" | "until" | "if" => {
                    st.open.push("compound");
                    self.touch_keyword(st, start);
                    return;
                }
                "for" => {
                    st.open.push("compound");
                    st.skip_for = true;
                    self.touch_keyword(st, start);
                    return;
                }
                "do" | "then" | "else" | "elif" | "!" => {
                    self.touch_keyword(st, start);
                    return;
                }
                "{" => {
                    st.open.push("{");
                    self.touch_keyword(st, start);
                    return;
                }
                "done" | "fi" | "}" => {
                    self.finish(st, depth, out);
                    st.open.pop();
                    self.touch_keyword(st, start);
                    return;
                }
                _ => {}
            }
            let name_end = word.find('=').filter(|&i| {
                i > 0
                    && word[..i]
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !word.starts_with(|c: char| c.is_ascii_digit())
            });
            if let Some(end) = name_end {
                st.current.assigns.push(word[..end].to_string());
                self.touch(st, start);
                return;
            }
        }
        st.current.raw.push(self.src[start..self.pos].to_string());
        st.current.words.push(word);
        self.touch(st, start);
    }

    fn touch_keyword(&self, st: &mut ListState, start: usize) {
        let span = st.pipeline_span.get_or_insert(start..start);
        span.end = self.pos;
        st.last_end = self.pos;
        st.pending = false;
    }

    fn redirect(&mut self, st: &mut ListState, depth: usize, out: &mut Logical) {
        let start = self.pos;
        let op = ["<<<", "<<-", "<<", ">>", ">&", "<&", ">|", "&>", "<", ">"]
            .into_iter()
            .find(|op| self.rest().starts_with(op))
            .unwrap();
        self.pos += op.len();
        if op.ends_with('&') && matches!(self.peek(), Some('0'..='9' | '-')) {
            self.bump();
        } else {
            self.skip_space();
            let target = self.word(depth + st.open.len() + 1, st.pipeline, out);
            if op.starts_with("<<") && op != "<<<" {
                self.heredocs.push((target, op == "<<-"));
            }
        }
        self.touch(st, start);
    }

    /// After a newline: skips the bodies of the line's here-documents, up to and with their
    /// delimiter lines. Whether there were any.
    fn heredoc_bodies(&mut self) -> bool {
        let pending = std::mem::take(&mut self.heredocs);
        for (delimiter, strip_tabs) in &pending {
            loop {
                let Some(line_end) = self.rest().find('\n') else {
                    self.pos = self.src.len();
                    break;
                };
                let line = &self.rest()[..line_end];
                let line = if *strip_tabs {
                    line.trim_start_matches('\t')
                } else {
                    line
                };
                let done = line == delimiter;
                self.pos += line_end + 1;
                if done {
                    break;
                }
            }
        }
        !pending.is_empty()
    }

    fn finish(&mut self, st: &mut ListState, depth: usize, out: &mut Logical) {
        if st.started {
            let mut simple = std::mem::take(&mut st.current);
            simple.span.end = st.last_end;
            simple.depth = depth + st.open.len();
            simple.pipeline = st.pipeline;
            if !simple.words.is_empty() || !simple.assigns.is_empty() {
                out.simples.push(simple);
            }
        }
        st.started = false;
        st.current = Simple::default();
    }

    fn close_pipeline(&mut self, st: &mut ListState, out: &mut Logical) {
        if let Some(span) = st.pipeline_span.take() {
            out.pipelines.push(span);
            st.pipeline += 1;
        }
    }

    /// One word, unquoted; a `$(…)` in it is parsed (its commands go to `out`) and kept as
    /// written.
    fn word(&mut self, depth: usize, pipeline: usize, out: &mut Logical) -> String {
        let mut text = String::new();
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\r' | '\n' | '|' | '&' | ';' | '<' | '>' | '(' | ')' => break,
                '\\' => {
                    self.bump();
                    match self.peek() {
                        Some('\n') => self.bump(),
                        Some(c) => {
                            text.push(c);
                            self.bump();
                        }
                        None => {}
                    }
                }
                '\'' => {
                    self.bump();
                    while let Some(c) = self.peek() {
                        self.bump();
                        if c == '\'' {
                            break;
                        }
                        text.push(c);
                    }
                }
                '"' => {
                    self.bump();
                    loop {
                        match self.peek() {
                            None => break,
                            Some('"') => {
                                self.bump();
                                break;
                            }
                            Some('\\') => {
                                self.bump();
                                if let Some(c) = self.peek() {
                                    if !"$`\"\\\n".contains(c) {
                                        text.push('\\');
                                    }
                                    if c != '\n' {
                                        text.push(c);
                                    }
                                    self.bump();
                                }
                            }
                            Some('$') if self.rest().starts_with("$(") => {
                                text.push_str(&self.substitution(depth, pipeline, out));
                            }
                            Some(c) => {
                                text.push(c);
                                self.bump();
                            }
                        }
                    }
                }
                '$' if self.rest().starts_with("$(") => {
                    text.push_str(&self.substitution(depth, pipeline, out));
                }
                '$' if self.rest().starts_with("${") => {
                    let end = self.rest().find('}').map_or(self.rest().len(), |i| i + 1);
                    text.push_str(&self.rest()[..end]);
                    self.pos += end;
                }
                c => {
                    text.push(c);
                    self.bump();
                }
            }
        }
        text
    }

    fn substitution(&mut self, depth: usize, pipeline: usize, out: &mut Logical) -> String {
        let start = self.pos;
        self.pos += 2;
        let mut inner = Logical::default();
        self.list(false, depth, &mut inner);
        assert_eq!(self.peek(), Some(')'), "an unclosed $( in {:?}", self.src);
        self.bump();
        for mut simple in inner.simples {
            simple.pipeline = pipeline;
            out.simples.push(simple);
        }
        out.defines.extend(inner.defines);
        self.src[start..self.pos].to_string()
    }
}

/// The block's commands, as a reader types them, and the text with comments blanked.
fn logicals(text: &str) -> (Vec<Logical>, String) {
    let mut lexer = Lexer {
        src: text,
        pos: 0,
        comments: Vec::new(),
        heredocs: Vec::new(),
    };
    let mut found = Vec::new();
    loop {
        loop {
            lexer.skip_space();
            match lexer.peek() {
                Some('\n') => lexer.bump(),
                Some('#') => lexer.skip_comment(),
                _ => break,
            }
        }
        if lexer.peek().is_none() {
            break;
        }
        let start = lexer.pos;
        let mut logical = Logical::default();
        lexer.list(true, 0, &mut logical);
        let end = logical.pipelines.last().map_or(start, |p| p.end);
        logical.span = start..end;
        if !logical.simples.is_empty() || !logical.defines.is_empty() {
            found.push(logical);
        }
    }
    let mut code = text.to_string();
    for comment in &lexer.comments {
        code.replace_range(comment.clone(), &" ".repeat(comment.len()));
    }
    (found, code)
}

/// A command as the tables write it: comments out, continuations joined, spaces collapsed.
fn normalized(code: &str, span: &Range<usize>) -> String {
    code[span.clone()]
        .replace("\\\n", " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------- the reader's directory

fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn shown(output: &Output) -> String {
    format!(
        "{}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    )
}

/// How one documented command was covered.
#[derive(Debug)]
struct Record {
    at: String,
    command: String,
    ran: Vec<String>,
    checked: Vec<String>,
}

/// A `sam` command for SAM CLI's parser, in a copy of the files it reads.
#[derive(Debug)]
struct SamCheck {
    at: String,
    dir: PathBuf,
    args: Vec<String>,
    /// The one-line JSON `ecr-steward policy parameter policy.yaml` prints there, when the
    /// command gives a `file://` parameter file.
    document: Option<String>,
}

/// Stack parameters another tool passes (`aws cloudformation deploy`, the Serverless
/// Application Repository), for template.yaml's parameters and Rules.
#[derive(Debug)]
struct ParameterCheck {
    at: String,
    command: String,
    overrides: BTreeMap<String, String>,
    document: Option<String>,
}

/// The state of one chapter's terminal: the file that keeps its functions, variables and
/// directory from one command to the next.
#[derive(Default)]
struct Session {
    file: PathBuf,
    variables: BTreeSet<String>,
    functions: BTreeMap<String, bool>,
    policy_replaced: bool,
}

struct Reader<'a> {
    stack: &'a Stack,
    /// Where each chapter starts: a clone's files (template.yaml, samconfig.toml) and
    /// `policy.yaml`.
    dir: PathBuf,
    bin: PathBuf,
    home: PathBuf,
    scratch: PathBuf,
    example: String,
    aws: Option<PathBuf>,
    made: BTreeMap<String, String>,
    /// The directories the release was "downloaded" to.
    releases: Vec<PathBuf>,
    failures: Vec<String>,
    records: Vec<Record>,
    programs: BTreeMap<String, usize>,
    used_expected: BTreeSet<&'static str>,
    used_not_run: BTreeSet<&'static str>,
    sam_checks: Vec<SamCheck>,
    parameter_checks: Vec<ParameterCheck>,
    aws_checks: Vec<(String, Vec<String>)>,
    /// Commands to run again on the example policy: (where, the command).
    again: Vec<(String, String)>,
    /// `aws sns set-subscription-attributes` ran: the subscription and its filter policy.
    filter_policy: Option<(String, Value)>,
    replayed: bool,
    fanned_out: bool,
}

impl Reader<'_> {
    fn made(&self, key: &str) -> &str {
        self.made
            .get(key)
            .unwrap_or_else(|| panic!("the set-up made no {key}"))
    }

    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut command = self.stack.command(program);
        command
            .env("PATH", path)
            .env("HOME", &self.home)
            .env("AWS_PAGER", "")
            .env("SAM_CLI_TELEMETRY", "0")
            .env(
                "STEWARD_REGISTRY_EU_CENTRAL_1",
                self.stack.registry("eu-west-1"),
            )
            .current_dir(&self.dir)
            .stdin(Stdio::null());
        command
    }

    fn write_example(&self) {
        for dir in std::iter::once(&self.dir).chain(&self.releases) {
            std::fs::write(dir.join("policy.yaml"), &self.example).unwrap();
        }
    }

    fn policy_is_example(&self) -> bool {
        std::fs::read_to_string(self.dir.join("policy.yaml"))
            .ok()
            .as_deref()
            == Some(self.example.as_str())
    }

    fn bash(&self, script: &str) -> Output {
        self.command("timeout")
            .args(["--kill-after=5", "180", "bash", "-c", script])
            .output()
            .expect("run bash")
    }

    /// Runs `script` in the chapter's terminal, and keeps the functions, variables and
    /// directory it leaves.
    fn run(&self, session: &Session, script: &str) -> Output {
        let file = quoted(&session.file.to_string_lossy());
        let keep: String = session
            .variables
            .iter()
            .map(|v| format!("declare -p {v} 2>/dev/null; "))
            .collect();
        self.bash(&format!(
            "if [ -f {file} ]; then . {file}; fi\n{script}\n__doc_rc=$?\n\
             {{ declare -f; {keep}printf 'cd %q\\n' \"$PWD\"; }} > {file}.new && mv {file}.new {file}\n\
             exit $__doc_rc\n"
        ))
    }

    /// The words as bash expands them in the chapter's terminal (variables, `$(…)`, globs,
    /// `~`), and the directory it is in.
    fn expand(&mut self, session: &Session, at: &str, raw: &[String]) -> (PathBuf, Vec<String>) {
        let file = quoted(&session.file.to_string_lossy());
        let output = self.bash(&format!(
            "if [ -f {file} ]; then . {file}; fi\nprintf '%s\\0' \"$PWD\" {}",
            raw.join(" ")
        ));
        if !output.status.success() {
            self.failures.push(format!(
                "{at}: bash cannot expand {raw:?}: {}",
                shown(&output)
            ));
        }
        let mut words: Vec<String> = text(&output.stdout)
            .split('\0')
            .map(str::to_string)
            .collect();
        words.pop();
        let cwd = PathBuf::from(words.remove(0));
        (cwd, words)
    }

    /// Whether this simple command runs here: Some(true) it runs, Some(false) it is checked,
    /// None the program is in no table.
    fn runs(&self, session: &Session, simple: &Simple) -> Option<bool> {
        let Some(program) = simple.program() else {
            return Some(true);
        };
        if let Some(runs) = session.functions.get(program) {
            return Some(*runs);
        }
        let (_, coverage, _) = PROGRAMS.iter().find(|(name, ..)| *name == program)?;
        Some(match coverage {
            Coverage::Run => true,
            Coverage::IfInstalled => which(program).is_some(),
            Coverage::Check => false,
            Coverage::Aws => {
                let call = (
                    simple.words.get(1).map_or("", String::as_str),
                    simple.words.get(2).map_or("", String::as_str),
                );
                self.aws.is_some() && AWS_RUN.contains(&call)
            }
        })
    }

    /// Runs every documented command of a chapter, in order, in one terminal.
    fn chapter(&mut self, blocks: &[Block], index: usize) {
        let mut session = Session {
            file: self.scratch.join(format!("session-{index}.sh")),
            ..Session::default()
        };
        self.write_example();
        for block in blocks {
            let substituted = self.placeholders(block);
            let (commands, code) = logicals(&substituted);
            for logical in &commands {
                let line = block.line + substituted[..logical.span.start].matches('\n').count();
                let at = format!("{}:{line}", block.file);
                self.logical(&mut session, &at, logical, &code);
            }
        }
    }

    /// `<TopicArn>` and the like, replaced by what the set-up made.
    fn placeholders(&mut self, block: &Block) -> String {
        let mut out = String::new();
        let mut rest = block.text.as_str();
        while let Some(start) = rest.find('<') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let name_len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(after.len());
            let name = &after[..name_len];
            let is_placeholder = name.starts_with(|c: char| c.is_ascii_alphabetic())
                && after[name_len..].starts_with('>');
            if !is_placeholder {
                out.push('<');
                rest = after;
                continue;
            }
            let value = match name {
                "TopicArn" => self.made("topic_arn").to_string(),
                "SubscriptionArn" => self.made("subscription_arn").to_string(),
                "region" => US.to_string(),
                "version" => workspace_version(),
                "target" => "x86_64-unknown-linux-musl".to_string(),
                other => {
                    self.failures.push(format!(
                        "{}:{}: the placeholder <{other}> has no value here: add it to `placeholders`",
                        block.file, block.line
                    ));
                    format!("<{other}>")
                }
            };
            out.push_str(&value);
            rest = &after[name_len + 1..];
        }
        out.push_str(rest);
        out
    }

    fn logical(&mut self, session: &mut Session, at: &str, logical: &Logical, code: &str) {
        let command = normalized(code, &logical.span);
        let mut record = Record {
            at: at.to_string(),
            command: command.clone(),
            ran: Vec::new(),
            checked: Vec::new(),
        };
        let mut runs = Vec::new();
        for simple in &logical.simples {
            if let Some(program) = simple.program() {
                *self.programs.entry(program.to_string()).or_default() += 1;
            }
            runs.push(self.runs(session, simple).unwrap_or_else(|| {
                self.failures.push(format!(
                    "{at}: `{}` is a program this test does not know: add it to PROGRAMS with how it is covered\n  {command}",
                    simple.program().unwrap_or_default()
                ));
                false
            }));
        }
        for name in &logical.defines {
            session
                .functions
                .insert(name.clone(), runs.iter().all(|r| *r));
        }
        for simple in logical.simples.iter().filter(|s| s.depth == 0) {
            session.variables.extend(simple.assigns.iter().cloned());
        }
        let script = &code[logical.span.clone()];
        if let Some((listed, reason)) = NOT_RUN.iter().find(|(c, _)| *c == command) {
            self.used_not_run.insert(listed);
            self.bash_n(at, &command, script);
            record.checked.push(format!("not run: {reason}"));
        } else if runs.iter().all(|r| *r) {
            // The whole command runs, as typed.
            self.unit(session, at, script, &command, &mut record);
        } else {
            self.bash_n(at, &command, script);
            for (index, span) in logical.pipelines.iter().enumerate() {
                let members: Vec<(&Simple, bool)> = logical
                    .simples
                    .iter()
                    .zip(&runs)
                    .filter(|(s, _)| s.pipeline == index)
                    .map(|(s, r)| (s, *r))
                    .collect();
                if !members.is_empty() && members.iter().all(|(_, r)| *r) {
                    let unit = normalized(code, span);
                    self.unit(session, at, &code[span.clone()], &unit, &mut record);
                    continue;
                }
                for (simple, runs) in members {
                    if runs {
                        self.in_unrunnable_pipeline(session, at, simple, code, &mut record);
                    } else {
                        self.check_other(session, at, simple, &mut record);
                    }
                    if simple.depth == 0 && simple.words.is_empty() {
                        self.stand_in(session, &command, simple, &mut record);
                    }
                }
            }
        }
        // Every aws command, run or not, is checked against botocore's models too.
        for simple in &logical.simples {
            if simple.program() == Some("aws") {
                let (_, argv) = self.expand(session, at, &simple.raw);
                self.aws_checks.push((at.to_string(), argv[1..].to_vec()));
            }
        }
        self.records.push(record);
    }

    fn bash_n(&mut self, at: &str, command: &str, script: &str) {
        let output = Command::new("bash")
            .args(["-n", "-c", "--", script])
            .output()
            .unwrap();
        if !output.status.success() {
            self.failures.push(format!(
                "{at}: `bash -n` refuses the command:\n  {command}\n{}",
                text(&output.stderr)
            ));
        }
    }

    /// Runs `script` (a whole command, or one pipeline of it) and checks its exit code.
    fn unit(
        &mut self,
        session: &mut Session,
        at: &str,
        script: &str,
        command: &str,
        record: &mut Record,
    ) {
        let started = std::time::Instant::now();
        let output = self.run(session, script);
        let code = output.status.code().unwrap_or(-1);
        let listed = EXPECTED.iter().find(|(c, ..)| *c == command);
        let (expected, evidence) = listed.map_or((0, ""), |(c, code, evidence)| {
            self.used_expected.insert(c);
            (*code, *evidence)
        });
        let all = format!("{}{}", text(&output.stdout), text(&output.stderr));
        if code != expected {
            let hint = match (code, listed) {
                (124, _) => " (timed out)",
                (_, Some(_)) => "",
                _ => " (a documented command that does not exit 0 needs an entry in EXPECTED, with the code the docs promise)",
            };
            self.failures.push(format!(
                "{at}: exit {code}, expected {expected}{hint}:\n  {command}\n{}",
                shown(&output)
            ));
        } else if !all.contains(evidence) {
            self.failures.push(format!(
                "{at}: exit {code} as expected, but the output does not say {evidence:?}:\n  {command}\n{}",
                shown(&output)
            ));
        }
        if all.contains("panicked at") {
            self.failures
                .push(format!("{at}: a panic:\n  {command}\n{}", shown(&output)));
        }
        let took = started.elapsed().as_millis();
        record
            .ran
            .push(format!("exit {code} ({took} ms): {command}"));
        eprintln!("{at}: exit {code} in {took} ms: {command}");

        // A chapter that replaced policy.yaml: its later ecr-steward commands that read it run
        // again on the example policy.
        let replaced_before = session.policy_replaced;
        session.policy_replaced |= !self.policy_is_example();
        if replaced_before
            && command.starts_with("ecr-steward ")
            && command.split_whitespace().any(|w| w == "policy.yaml")
        {
            self.again.push((at.to_string(), command.to_string()));
        }
        self.after(at, command, &output);
    }

    /// What a command run here must have done, beyond its exit code.
    fn after(&mut self, at: &str, command: &str, output: &Output) {
        if command.contains("aws sns list-subscriptions-by-topic")
            && text(&output.stdout).trim() != self.made("subscription_arn")
        {
            self.failures.push(format!(
                "{at}: the https subscription's ARN was not printed:\n{}",
                shown(output)
            ));
        }
        if command.contains("aws sns set-subscription-attributes") {
            let words: Vec<&str> = command.split_whitespace().collect();
            let value_at = command.find("--attribute-value ").unwrap() + "--attribute-value ".len();
            let value = command[value_at..].trim().trim_matches('\'');
            let policy: Value = serde_json::from_str(value)
                .unwrap_or_else(|e| panic!("{at}: the filter policy is not JSON ({e}): {value}"));
            let arn = words[words
                .iter()
                .position(|w| *w == "--subscription-arn")
                .unwrap()
                + 1];
            self.filter_policy = Some((arn.to_string(), policy));
        }
        if command.contains("aws lambda invoke") {
            // The stand-in function answers with its event: each record's event, replayed.
            self.replayed = true;
            let mut got: Vec<String> = text(&output.stdout)
                .lines()
                .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                .filter(|v| v.get("detail-type").is_some())
                .map(|v| v.to_string())
                .collect();
            let mut want: Vec<String> =
                serde_json::from_str::<Vec<Value>>(self.made("replay_events"))
                    .unwrap()
                    .iter()
                    .map(Value::to_string)
                    .collect();
            got.sort();
            want.sort();
            if got != want {
                self.failures.push(format!(
                    "{at}: the replay did not invoke the function with each record's event:\n got {got:#?}\n want {want:#?}\n{}",
                    shown(output)
                ));
            }
        }
        if command.contains("--fan-out") {
            self.fanned_out = true;
        }
    }

    /// A program that runs here, in a pipeline that cannot (it pipes into or from a program
    /// that is only checked): `ecr-steward` runs alone; a jq program must compile.
    fn in_unrunnable_pipeline(
        &mut self,
        session: &mut Session,
        at: &str,
        simple: &Simple,
        code: &str,
        record: &mut Record,
    ) {
        match simple.program() {
            Some("ecr-steward") if simple.depth == 0 => {
                let alone = simple.raw.join(" ");
                self.unit(session, at, &alone, &normalized(code, &simple.span), record);
            }
            Some("jq") => {
                let (_, argv) = self.expand(session, at, &simple.raw);
                let mut args = vec!["-n".to_string()];
                let mut rest = argv[1..].iter();
                while let Some(word) = rest.next() {
                    args.push(word.clone());
                    let values = match word.as_str() {
                        "--arg" | "--argjson" | "--slurpfile" | "--rawfile" => 2,
                        "-L" | "--indent" => 1,
                        w if w.starts_with('-') => 0,
                        _ => break, // the program; what follows are files
                    };
                    args.extend(rest.by_ref().take(values).cloned());
                }
                let output = Command::new("jq")
                    .args(&args)
                    .stdin(Stdio::null())
                    .output()
                    .unwrap();
                // jq's exit code 3 is a compile error; a runtime error on `null` is not one.
                if output.status.code() == Some(3) {
                    self.failures.push(format!(
                        "{at}: jq cannot compile the program of {args:?}: {}",
                        text(&output.stderr)
                    ));
                }
                record
                    .checked
                    .push(format!("jq {}: the program compiles", args[1..].join(" ")));
            }
            Some(program) => record.checked.push(format!(
                "{program}: in a pipeline that cannot run here; `bash -n`"
            )),
            None => {}
        }
    }

    /// A variable the command that cannot run here would have set, where one is needed.
    fn stand_in(&mut self, session: &Session, command: &str, simple: &Simple, record: &mut Record) {
        for name in &simple.assigns {
            let Some((_, _, key)) = STAND_INS
                .iter()
                .find(|(v, word, _)| v == name && command.contains(word))
            else {
                record.checked.push(format!("`{name}` stays unset"));
                continue;
            };
            let value = self.made(key).to_string();
            let mut saved = std::fs::read_to_string(&session.file).unwrap_or_default();
            saved.push_str(&format!("{name}={}\n", quoted(&value)));
            std::fs::write(&session.file, saved).unwrap();
            record
                .checked
                .push(format!("`{name}` stands for the set-up's {key}: {value}"));
        }
    }

    /// A program that does not run in the reader's terminal: checked as PROGRAMS says, on its
    /// words as bash expands them there.
    fn check_other(&mut self, session: &Session, at: &str, simple: &Simple, record: &mut Record) {
        let Some(program) = simple.program() else {
            return;
        };
        if session.functions.contains_key(program) {
            record.checked.push(format!(
                "{program}: the function, checked where it is defined"
            ));
            return;
        }
        let (cwd, words) = self.expand(session, at, &simple.raw);
        let result = match program {
            "sam" => self.sam(at, &cwd, &words[1..]),
            "--parameter-overrides" => {
                let dir = self
                    .scratch
                    .join(format!("fragment-{}", self.sam_checks.len()));
                std::fs::create_dir_all(&dir).unwrap();
                std::os::unix::fs::symlink(
                    workspace_root().join("template.yaml"),
                    dir.join("template.yaml"),
                )
                .unwrap();
                let mut args: Vec<String> = ["deploy", "--stack-name", "ecr-steward"]
                    .map(String::from)
                    .to_vec();
                args.extend(words.iter().cloned());
                self.sam(at, &dir, &args)
            }
            "aws" => self.aws_parameters(at, &cwd, &words).map(|how| {
                let why = if self.aws.is_none() {
                    "no AWS CLI here"
                } else {
                    "moto does not hold what it acts on"
                };
                format!(
                    "aws {}: botocore's model ({why}){how}",
                    words[1..3.min(words.len())].join(" ")
                )
            }),
            "make" => check_make(&words),
            "cargo" => check_cargo(&words),
            "gh" => self.gh(&cwd, &words),
            "mdbook" => check_mdbook(&words),
            "man" => Ok("man: not installed here, so the page is not read".into()),
            other => Err(format!("no checker for {other}")),
        };
        match result {
            Ok(how) => record.checked.push(how),
            Err(why) => self
                .failures
                .push(format!("{at}: `{}`: {why}", words.join(" "))),
        }
    }

    /// `ecr-steward policy parameter policy.yaml` in `dir`: the PolicyDocument value.
    fn document(&self, dir: &Path) -> String {
        let output = self
            .command("ecr-steward")
            .args(["policy", "parameter", "policy.yaml"])
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", shown(&output));
        let printed = text(&output.stdout);
        printed.strip_suffix('\n').unwrap_or(&printed).to_string()
    }

    /// Copies what a `sam` command reads (its template, samconfig.toml, `file://` files) for
    /// SAM CLI's parser, run once at the end.
    fn sam(&mut self, at: &str, cwd: &Path, args: &[String]) -> Result<String, String> {
        let dir = self.scratch.join(format!("sam-{}", self.sam_checks.len()));
        std::fs::create_dir_all(&dir).unwrap();
        let flag = |names: &[&str]| {
            args.iter()
                .position(|a| names.contains(&a.as_str()))
                .and_then(|i| args.get(i + 1))
                .cloned()
        };
        // (file, whether the command names it), in the directory it runs in.
        let mut files = vec![
            match flag(&["--template-file", "--template", "-t"]) {
                Some(template) => (template, true),
                None => ("template.yaml".to_string(), false),
            },
            ("samconfig.toml".to_string(), false),
        ];
        let mut document = None;
        for arg in args {
            if let Some(file) = arg.strip_prefix("file://") {
                files.push((file.to_string(), true));
                document = Some(self.document(cwd));
            }
        }
        let mut notes = Vec::new();
        for (file, named) in files {
            let from = cwd.join(&file);
            if from.is_file() {
                std::fs::copy(&from, dir.join(&file)).unwrap();
            } else if let Some((_, what)) = STAND_IN_FILES.iter().find(|(f, _)| *f == file) {
                let release = self.releases.last().and_then(|r| {
                    std::fs::read_dir(r)
                        .unwrap()
                        .map(|e| e.unwrap().path())
                        .find(|p| p.to_string_lossy().ends_with("-template.yaml"))
                });
                let source = release.unwrap_or_else(|| workspace_root().join("template.yaml"));
                std::fs::copy(source, dir.join(&file)).unwrap();
                notes.push(format!("{file} is {what}"));
            } else if named {
                return Err(format!("reads {file}, which is not in {}", cwd.display()));
            }
        }
        self.sam_checks.push(SamCheck {
            at: at.to_string(),
            dir,
            args: args.to_vec(),
            document,
        });
        Ok(format!(
            "sam {}: SAM CLI's parser and the template's parameters and Rules{}",
            args.first().map_or("", String::as_str),
            if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join("; "))
            }
        ))
    }

    /// Stack parameters an `aws` command passes: checked against template.yaml.
    fn aws_parameters(&mut self, at: &str, cwd: &Path, words: &[String]) -> Result<String, String> {
        let Some(start) = words.iter().position(|w| w == "--parameter-overrides") else {
            return Ok(String::new());
        };
        let values: Vec<&String> = words[start + 1..]
            .iter()
            .take_while(|w| !w.starts_with("--"))
            .collect();
        let mut overrides = BTreeMap::new();
        for value in values {
            if let Some(file) = value.strip_prefix("file://") {
                let text =
                    std::fs::read_to_string(cwd.join(file)).map_err(|e| format!("{file}: {e}"))?;
                let list: Vec<Value> = serde_json::from_str(&text)
                    .map_err(|e| format!("{file} is not a JSON list: {e}"))?;
                for item in list {
                    let name = item["Name"].as_str().or(item["ParameterKey"].as_str());
                    let value = item["Value"].as_str().or(item["ParameterValue"].as_str());
                    let (Some(name), Some(value)) = (name, value) else {
                        return Err(format!("{file}: {item} has no Name and Value"));
                    };
                    overrides.insert(name.to_string(), value.to_string());
                }
            } else if let Some((name, value)) = value.split_once('=') {
                overrides.insert(name.to_string(), value.to_string());
            } else {
                return Err(format!("{value}: not NAME=VALUE"));
            }
        }
        let document = overrides
            .contains_key("PolicyDocument")
            .then(|| self.document(cwd));
        self.parameter_checks.push(ParameterCheck {
            at: at.to_string(),
            command: words[..3.min(words.len())].join(" "),
            overrides,
            document,
        });
        Ok("; its parameters against template.yaml's".into())
    }

    /// `gh`: a release download stands for itself with the release's files as the release
    /// workflow names them; an attestation names what the release workflow attests.
    fn gh(&mut self, cwd: &Path, words: &[String]) -> Result<String, String> {
        let repository = repository();
        let flag_values = |name: &str| -> Vec<String> {
            words
                .windows(2)
                .filter(|w| w[0] == name)
                .map(|w| w[1].clone())
                .collect()
        };
        if flag_values("--repo") != [repository.clone()] {
            return Err(format!("--repo must be {repository}"));
        }
        match words.get(1..3) {
            Some([a, b]) if a == "release" && b == "download" => {
                let tag = words.get(3).ok_or("no tag")?;
                let version = tag
                    .strip_prefix('v')
                    .ok_or(format!("{tag}: the release tags are vVERSION"))?;
                let [dir] = &flag_values("--dir")[..] else {
                    return Err("one --dir".into());
                };
                let assets =
                    release_assets(&self.scratch.join(format!("release-{version}")), version)?;
                let into = cwd.join(dir);
                std::fs::create_dir_all(&into).unwrap();
                let mut copied = 0;
                for pattern in flag_values("--pattern") {
                    let matching: Vec<&PathBuf> = assets
                        .iter()
                        .filter(|a| glob(&pattern, &a.file_name().unwrap().to_string_lossy()))
                        .collect();
                    if matching.is_empty() {
                        return Err(format!(
                            "--pattern {pattern} matches no file of the release"
                        ));
                    }
                    for asset in matching {
                        std::fs::copy(asset, into.join(asset.file_name().unwrap())).unwrap();
                        copied += 1;
                    }
                }
                std::fs::copy(self.dir.join("policy.yaml"), into.join("policy.yaml")).unwrap();
                self.releases.push(into);
                Ok(format!(
                    "gh release download: not run (no release to download here); {copied} files of a stand-in release {tag} (as release.yml names them; zips of made-up bytes, the template by scripts/release-template) put in {dir}"
                ))
            }
            Some([a, b]) if a == "attestation" && b == "verify" => check_attestation(words),
            _ => Err("only `gh release download` and `gh attestation verify` are known".into()),
        }
    }
}

fn repository() -> String {
    let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
    manifest
        .lines()
        .find_map(|l| l.strip_prefix("repository = \"https://github.com/"))
        .and_then(|r| r.strip_suffix('"'))
        .expect("Cargo.toml's repository")
        .to_string()
}

fn workspace_version() -> String {
    let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
    let section = &manifest[manifest.find("[workspace.package]").unwrap()..];
    let line = section.lines().find(|l| l.starts_with("version")).unwrap();
    line.split('"').nth(1).unwrap().to_string()
}

/// `*` and `?` as gh's --pattern takes them.
fn glob(pattern: &str, name: &str) -> bool {
    match pattern.chars().next() {
        None => name.is_empty(),
        Some('*') => (0..=name.len())
            .filter(|i| name.is_char_boundary(*i))
            .any(|i| glob(&pattern[1..], &name[i..])),
        Some('?') => name
            .chars()
            .next()
            .is_some_and(|c| glob(&pattern[1..], &name[c.len_utf8()..])),
        Some(p) => name
            .strip_prefix(p)
            .is_some_and(|rest| glob(&pattern[p.len_utf8()..], rest)),
    }
}

/// A stand-in for release `version`'s assets, in `dir`: the files release.yml publishes, by
/// their names there (the functions of template.yaml's `Binary`), with made-up contents, but
/// the template that scripts/release-template writes from them and a true SHA256SUMS.
fn release_assets(dir: &Path, version: &str) -> Result<Vec<PathBuf>, String> {
    let root = workspace_root();
    let release = std::fs::read_to_string(root.join(".github/workflows/release.yml")).unwrap();
    let template = std::fs::read_to_string(root.join("template.yaml")).unwrap();
    let functions: Vec<&str> = template
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Binary: "))
        .collect();
    std::fs::create_dir_all(dir).unwrap();
    let mut names = Vec::new();
    for function in &functions {
        names.push(format!("ecr-steward-{version}-{function}-arm64.zip"));
        names.push(format!("ecr-steward-{version}-{function}-arm64.cdx.json"));
    }
    for target in [
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
        "aarch64-apple-darwin",
    ] {
        if !release.contains(target) {
            return Err(format!("release.yml builds no {target}"));
        }
        names.push(format!("ecr-steward-{version}-{target}.tar.gz"));
        names.push(format!("ecr-steward-{version}-{target}.cdx.json"));
    }
    for name in &names {
        std::fs::write(dir.join(name), format!("stand-in for {name}\n")).unwrap();
    }
    let output = Command::new(root.join("scripts/release-template"))
        .arg(version)
        .arg(dir)
        .output()
        .unwrap();
    if !output.status.success() {
        return Err(format!(
            "scripts/release-template {version}: {}",
            shown(&output)
        ));
    }
    for name in [
        format!("ecr-steward-{version}-template.yaml"),
        "LICENSE".into(),
        "README.md".into(),
    ] {
        if !dir.join(&name).is_file() {
            return Err(format!("scripts/release-template wrote no {name}"));
        }
        names.push(name);
    }
    names.sort();
    let output = Command::new("sha256sum")
        .args(&names)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", shown(&output));
    std::fs::write(dir.join("SHA256SUMS"), &output.stdout).unwrap();
    names.push("SHA256SUMS".into());
    Ok(names.iter().map(|n| dir.join(n)).collect())
}

fn check_attestation(words: &[String]) -> Result<String, String> {
    let root = workspace_root();
    let release = std::fs::read_to_string(root.join(".github/workflows/release.yml")).unwrap();
    let install = std::fs::read_to_string(root.join("scripts/action/install")).unwrap();
    let repository = repository();
    let asset = words.get(3).ok_or("no file to verify")?;
    // A literal file name must be one the release publishes (a loop's "$file" is empty here).
    if !asset.is_empty() {
        let known = asset.strip_prefix("ecr-steward-").is_some_and(|a| {
            a.ends_with(".tar.gz") || a.ends_with("-arm64.zip") || a.ends_with("-template.yaml")
        });
        if !known {
            return Err(format!("{asset} is not a file the release publishes"));
        }
        if let Some(target) = asset
            .strip_suffix(".tar.gz")
            .and_then(|a| a.strip_prefix("ecr-steward-"))
            .and_then(|a| a.split_once('-'))
            .map(|(_, target)| target)
        {
            if !release.contains(target) {
                return Err(format!("release.yml builds no {target}"));
            }
        }
    }
    let mut i = 4;
    while i < words.len() {
        let flag = words[i].as_str();
        let value = words.get(i + 1).map_or("", String::as_str);
        match flag {
            "--repo" => {}
            "--signer-workflow" => {
                if value != format!("{repository}/.github/workflows/release.yml") {
                    return Err(format!(
                        "--signer-workflow {value}: not the release workflow"
                    ));
                }
                if !install.contains("--signer-workflow") {
                    return Err("scripts/action/install does not pass --signer-workflow".into());
                }
            }
            "--predicate-type" => {
                let attests = match value {
                    "https://slsa.dev/provenance/v1" => "actions/attest-build-provenance@",
                    "https://cyclonedx.org/bom" => "actions/attest-sbom@",
                    other => return Err(format!("an unknown predicate type {other}")),
                };
                if !release.contains(attests) {
                    return Err(format!(
                        "release.yml makes no {value} attestation ({attests})"
                    ));
                }
            }
            "--deny-self-hosted-runners" => {
                if !install.contains(flag) {
                    return Err(format!("scripts/action/install does not pass {flag}"));
                }
                i += 1;
                continue;
            }
            _ => return Err(format!("{flag} {value}: not an option this test knows")),
        }
        i += 2;
    }
    Ok(format!(
        "gh attestation verify: {repository}'s release workflow attests such files, as named (not run: no gh here, and it needs a published release)"
    ))
}

fn check_make(words: &[String]) -> Result<String, String> {
    let [_, target] = words else {
        return Err("expected `make TARGET`".into());
    };
    let Some((_, reason)) = MAKE_TARGETS.iter().find(|(t, _)| t == target) else {
        return Err(format!("make {target}: not in MAKE_TARGETS"));
    };
    // Under `make test` itself, the inherited MAKELEVEL/MAKEFLAGS would make this make print
    // its directory (`make[1]: Entering …`) before the recipe.
    let output = Command::new("make")
        .args(["-n", "--no-print-directory", target])
        .env_remove("MAKELEVEL")
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .current_dir(workspace_root())
        .output()
        .unwrap();
    if !output.status.success() {
        return Err(format!("`make -n {target}` fails: {}", shown(&output)));
    }
    let recipe = text(&output.stdout);
    let script = recipe.split_whitespace().next().unwrap_or_default();
    use std::os::unix::fs::PermissionsExt;
    let executable = std::fs::metadata(workspace_root().join(script))
        .is_ok_and(|m| m.permissions().mode() & 0o111 != 0);
    if !executable {
        return Err(format!(
            "`make -n {target}` runs {script}, which is not an executable file"
        ));
    }
    Ok(format!(
        "make {target}: `make -n` runs {script}, which exists (not run: {reason})"
    ))
}

fn check_cargo(words: &[String]) -> Result<String, String> {
    let command = words.join(" ");
    let flag = |names: &[&str]| {
        words
            .iter()
            .position(|w| names.contains(&w.as_str()))
            .and_then(|i| words.get(i + 1))
            .cloned()
    };
    let root = workspace_root();
    match words.get(1).map(String::as_str) {
        Some("install") if flag(&["--path"]).is_some() => {
            let path = flag(&["--path"]).unwrap();
            let manifest = std::fs::read_to_string(root.join(&path).join("Cargo.toml"))
                .map_err(|e| format!("{path}/Cargo.toml: {e}"))?;
            if !manifest.contains("[[bin]]\nname = \"ecr-steward\"") {
                return Err(format!("{path}/Cargo.toml has no binary ecr-steward"));
            }
            Ok(format!(
                "`{command}`: {path}/Cargo.toml builds the binary ecr-steward (not run: a release build)"
            ))
        }
        Some("install") => {
            let ci = std::fs::read_to_string(root.join(".github/workflows/ci.yml")).unwrap();
            if !ci.lines().any(|line| line.contains(&command)) {
                return Err(format!(
                    "`{command}` is not what .github/workflows/ci.yml runs"
                ));
            }
            Ok(format!(
                "`{command}`: the command .github/workflows/ci.yml runs (not run: an install)"
            ))
        }
        Some("build") => {
            let package = flag(&["-p", "--package"]).ok_or("cargo build without -p")?;
            let members = ["cli", "core", "shared", "tests"]
                .iter()
                .map(|d| root.join(d))
                .chain(
                    std::fs::read_dir(root.join("functions"))
                        .unwrap()
                        .map(|e| e.unwrap().path()),
                );
            let manifest = members
                .map(|d| d.join("Cargo.toml"))
                .find(|m| {
                    std::fs::read_to_string(m)
                        .is_ok_and(|t| t.contains(&format!("[package]\nname = \"{package}\"")))
                })
                .ok_or(format!("no workspace member is {package}"))?;
            Ok(format!(
                "`{command}`: {} is {package} (not run: a release build)",
                manifest.strip_prefix(root).unwrap().display()
            ))
        }
        _ => Err("an unknown cargo command".into()),
    }
}

fn check_mdbook(words: &[String]) -> Result<String, String> {
    if words != ["mdbook", "build", "docs"] {
        return Err("only `mdbook build docs` is known".into());
    }
    let root = workspace_root();
    if which("mdbook").is_some() {
        let output = Command::new("mdbook")
            .args(["build", "docs"])
            .current_dir(root)
            .output()
            .unwrap();
        if !output.status.success() {
            return Err(format!("`mdbook build docs` fails: {}", shown(&output)));
        }
        return Ok("mdbook build docs: ran in the clone".into());
    }
    let book = std::fs::read_to_string(root.join("docs/book.toml")).map_err(|e| e.to_string())?;
    if !book.contains("build-dir = \"../target/book\"") {
        return Err("docs/book.toml does not build into target/book".into());
    }
    Ok(
        "mdbook build docs: docs/book.toml builds into target/book (not run: no mdbook here)"
            .into(),
    )
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}

// ---------------------------------------------------------------- the Python checkers

/// Run with the SAM CLI's venv. `sam`: each command through SAM CLI's own click parser
/// (samconfig.toml, `file://` parameter files, `CfnParameterOverridesType`), then its
/// parameter overrides against its template's Parameters (AllowedValues, AllowedPattern) and
/// Rules. `parameters`: overrides another tool passes, against template.yaml's.
const SAM_CHECK: &str = r#"
import importlib, json, os, re, sys
import click
from samcli.yamlhelper import yaml_parse

def value(node, params):
    if isinstance(node, dict) and len(node) == 1:
        (fn, arg), = node.items()
        if fn == "Ref": return params[arg]
        if fn == "Fn::Equals": return value(arg[0], params) == value(arg[1], params)
        if fn == "Fn::Not": return not value(arg[0], params)
        if fn == "Fn::And": return all(value(a, params) for a in arg)
        if fn == "Fn::Or": return any(value(a, params) for a in arg)
        if fn == "Fn::Contains": return value(arg[1], params) in value(arg[0], params)
        if fn == "Fn::EachMemberEquals": return all(m == value(arg[1], params) for m in value(arg[0], params))
        if fn == "Fn::EachMemberIn": return all(m in value(arg[1], params) for m in value(arg[0], params))
        raise ValueError(f"Rules: {fn} is not evaluated here")
    return node

def against(template_path, overrides):
    errors = []
    template = yaml_parse(open(template_path).read())
    parameters = template["Parameters"]
    for key, given in overrides.items():
        p = parameters.get(key)
        if p is None:
            errors.append(f"{key}: not a parameter of {os.path.basename(template_path)}")
            continue
        if "AllowedValues" in p and given not in [str(v) for v in p["AllowedValues"]]:
            errors.append(f"{key}={given}: not one of {p['AllowedValues']}")
        if "AllowedPattern" in p and not re.fullmatch(p["AllowedPattern"], given):
            errors.append(f"{key}={given}: does not match {p['AllowedPattern']}")
    params = {k: str(p.get("Default", "")) for k, p in parameters.items()}
    params.update(overrides)
    for k, p in parameters.items():
        if p["Type"] == "CommaDelimitedList" or p["Type"].startswith("List<"):
            params[k] = params[k].split(",")
    for rule_name, rule in template.get("Rules", {}).items():
        if "RuleCondition" in rule and not value(rule["RuleCondition"], params):
            continue
        for assertion in rule["Assertions"]:
            if not value(assertion["Assert"], params):
                errors.append(f"Rules.{rule_name}: {assertion.get('AssertDescription')}")
    return errors

given = json.load(sys.stdin)
sam = []
for check in given["sam"]:
    os.chdir(check["dir"])
    name, args = check["args"][0], check["args"][1:]
    result = {"errors": [], "overrides": {}}
    try:
        command = importlib.import_module(f"samcli.commands.{name}.command").cli
        ctx = command.make_context(f"sam {name}", list(args))
        overrides = {k: str(v) for k, v in dict(ctx.params.get("parameter_overrides") or {}).items()}
        result["overrides"] = overrides
        if overrides:
            result["errors"] += against(ctx.params.get("template_file") or "template.yaml", overrides)
    except click.exceptions.ClickException as e:
        result["errors"].append(f"{type(e).__name__}: {e.format_message()}")
    except Exception as e:
        result["errors"].append(f"{type(e).__name__}: {e}")
    sam.append(result)
parameters = [against(given["template"], overrides) for overrides in given["parameters"]]
print(json.dumps({"sam": sam, "parameters": parameters}))
"#;

/// Run with the test bed's venv (boto3): each `aws` command's service, operation (or waiter,
/// or one of the CLI's own commands) and options against botocore's service models, which the
/// AWS CLI is made from; its required options; its `--query` (JMESPath).
const AWS_CHECK: &str = r#"
import json, sys
import botocore.session, jmespath
from botocore import xform_name

session = botocore.session.get_session()
GLOBAL = {"--query": 1, "--output": 1, "--region": 1, "--profile": 1, "--endpoint-url": 1,
          "--cli-binary-format": 1, "--page-size": 1, "--max-items": 1, "--starting-token": 1,
          "--color": 1, "--cli-input-json": 1, "--cli-input-yaml": 1, "--ca-bundle": 1,
          "--cli-read-timeout": 1, "--cli-connect-timeout": 1, "--no-cli-pager": 0,
          "--no-paginate": 0, "--debug": 0, "--no-verify-ssl": 0, "--no-sign-request": 0}
# The AWS CLI's own commands (not API operations): options (value count, "*" several), the
# required ones, and how many positional arguments.
CUSTOM = {
    ("cloudformation", "deploy"): ({"--template-file": 1, "--stack-name": 1, "--s3-bucket": 1,
        "--s3-prefix": 1, "--force-upload": 0, "--kms-key-id": 1, "--parameter-overrides": "*",
        "--capabilities": "*", "--no-execute-changeset": 0, "--role-arn": 1,
        "--notification-arns": "*", "--fail-on-empty-changeset": 0,
        "--no-fail-on-empty-changeset": 0, "--tags": "*", "--disable-rollback": 0,
        "--no-disable-rollback": 0}, ["--template-file", "--stack-name"], 0),
    ("cloudformation", "package"): ({"--template-file": 1, "--s3-bucket": 1, "--s3-prefix": 1,
        "--kms-key-id": 1, "--output-template-file": 1, "--use-json": 0, "--force-upload": 0,
        "--metadata": "*"}, ["--template-file", "--s3-bucket"], 0),
    ("logs", "tail"): ({"--since": 1, "--follow": 0, "--format": 1, "--filter-pattern": 1,
        "--log-stream-names": "*", "--log-stream-name-prefix": 1}, [], 1),
    ("s3", "cp"): ({"--recursive": 0, "--exclude": 1, "--include": 1}, [], 2),
    ("s3", "rm"): ({"--recursive": 0, "--exclude": 1, "--include": 1}, [], 1),
    ("s3", "ls"): ({"--recursive": 0}, [], None),
}
POSITIONAL = {("lambda", "invoke"): 1}

def options(rest, known, errors, where):
    seen, positional, i = set(), 0, 0
    while i < len(rest):
        a = rest[i]
        if not a.startswith("--"):
            positional += 1
            i += 1
            continue
        if a in GLOBAL:
            v = rest[i + 1] if GLOBAL[a] and i + 1 < len(rest) else None
            if a == "--query":
                try:
                    jmespath.compile(v)
                except Exception as e:
                    errors.append(f"--query {v}: {e}")
            if a == "--output" and v not in ("json", "text", "table", "yaml", "yaml-stream"):
                errors.append(f"--output {v}")
            if a == "--cli-binary-format" and v not in ("raw-in-base64-out", "base64"):
                errors.append(f"--cli-binary-format {v}")
            i += 1 + GLOBAL[a]
            continue
        if a not in known:
            errors.append(f"{where} has no option {a}")
            i += 1
            continue
        seen.add(a)
        i += 1
        n = 0
        while known[a] != 0 and i < len(rest) and not rest[i].startswith("--"):
            i += 1
            n += 1
            if known[a] == 1:
                break
        if known[a] != 0 and n == 0:
            errors.append(f"{a} needs a value")
    return seen, positional

def check(argv):
    errors = []
    if len(argv) < 2:
        return ["expected `aws SERVICE COMMAND`"]
    service, command, rest = argv[0], argv[1], argv[2:]
    where = f"aws {service} {command}"
    if (service, command) in CUSTOM:
        known, required, positional_count = CUSTOM[(service, command)]
        seen, positional = options(rest, known, errors, where)
        errors += [f"{where}: {r} is required" for r in required if r not in seen]
        if positional_count is not None and positional != positional_count:
            errors.append(f"{where}: {positional} positional arguments, not {positional_count}")
        return errors
    try:
        model = session.get_service_model({"s3api": "s3"}.get(service, service))
    except Exception as e:
        return [f"no service {service}: {e}"]
    if command == "wait":
        waiters = session.get_waiter_model(model.service_name)
        names = {xform_name(w, "-"): w for w in waiters.waiter_names}
        if not rest or rest[0] not in names:
            return [f"{service} has no waiter {rest[:1]}"]
        op = model.operation_model(waiters.get_waiter(names[rest[0]]).operation)
        rest = rest[1:]
        where += " " + argv[2]
    else:
        ops = {xform_name(op, "-"): op for op in model.operation_names}
        if command not in ops:
            return [f"{service} has no command {command}"]
        op = model.operation_model(ops[command])
    members = op.input_shape.members if op.input_shape else {}
    known = {}
    for m, shape in members.items():
        flag = "--" + xform_name(m, "-")
        if shape.type_name == "boolean":
            known[flag] = 0
            known["--no-" + flag[2:]] = 0
        else:
            known[flag] = "*" if shape.type_name == "list" else 1
    seen, positional = options(rest, known, errors, where)
    if positional != POSITIONAL.get((service, command), 0):
        errors.append(f"{where}: {positional} positional arguments")
    for required in (op.input_shape.required_members if op.input_shape else []):
        flag = "--" + xform_name(required, "-")
        if flag not in seen and not (command == "wait" and required == "StackName"):
            errors.append(f"{where}: {flag} is required")
    return errors

print(json.dumps([check(argv) for argv in json.load(sys.stdin)]))
"#;

/// Run with the test bed's venv (boto3): what the docs' AWS commands find in AWS, made in
/// moto; with `seed`, the policy in S3 and SSM where the docs' own upload (no AWS CLI here)
/// would have put it. Prints what it made, as JSON.
const SETUP: &str = r#"
import io, json, os, sys, urllib.request, zipfile
import boto3

given = json.load(sys.stdin)
endpoint = os.environ["AWS_ENDPOINT_URL"]
region = "us-east-1"
# moto's Lambda without Docker: an invocation answers with its event.
request = urllib.request.Request(endpoint + "/moto-api/config", method="POST",
    data=json.dumps({"lambda": {"use_docker": False}}).encode(),
    headers={"Content-Type": "application/json"})
urllib.request.urlopen(request).read()

s3 = boto3.client("s3", region_name=region)
s3.create_bucket(Bucket="platform-config")
sns = boto3.client("sns", region_name=region)
topic = sns.create_topic(Name="ecr-steward-Topic")["TopicArn"]
subscription = sns.subscribe(TopicArn=topic, Protocol="https", Endpoint="https://chat.example.com/hook",
                             ReturnSubscriptionArn=True)["SubscriptionArn"]
sqs = boto3.client("sqs", region_name=region)
failure = sqs.create_queue(QueueName="ecr-steward-FailureQueue")["QueueUrl"]
copy = sqs.create_queue(QueueName="ecr-steward-CopyJobQueue")["QueueUrl"]
role = boto3.client("iam", region_name=region).create_role(RoleName="ecr-steward-PushGuardRole",
    AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
code = io.BytesIO()
with zipfile.ZipFile(code, "w") as z:
    z.writestr("index.py", "def handler(event, context):\n    return event\n")
function = boto3.client("lambda", region_name=region).create_function(
    FunctionName="ecr-steward-PushGuardFunction", Runtime="python3.12", Role=role,
    Handler="index.handler", Code={"ZipFile": code.getvalue()})["FunctionArn"]
for record in given["failure_records"]:
    sqs.send_message(QueueUrl=failure, MessageBody=json.dumps(record))
outputs = {key: f"stand-in-{key}" for key in given["outputs"]}
outputs.update({"FailureQueueUrl": failure, "CopyJobQueueUrl": copy,
                "PushGuardFunctionArn": function, "TopicArn": topic})
stacks = {"ecr-steward": outputs,
          "aws-sam-cli-managed-default": {"SourceBucket": "aws-sam-cli-managed-default-samclisourcebucket-0"}}
for stack_region in ("us-east-1", "eu-west-1"):
    for name, values in stacks.items():
        template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
                    "Outputs": {key: {"Value": value} for key, value in values.items()}}
        boto3.client("cloudformation", region_name=stack_region).create_stack(
            StackName=name, TemplateBody=json.dumps(template))
if given["seed"] is not None:
    s3.put_object(Bucket="platform-config", Key="ecr-steward/policy.yaml", Body=given["seed"].encode())
    boto3.client("ssm", region_name=region).put_parameter(Name="/ecr-steward/policy", Type="String",
        Tier="Advanced", Value=given["seed"], Overwrite=True)
print(json.dumps({"topic_arn": topic, "subscription_arn": subscription, "failure_queue": failure,
                  "copy_queue": copy, "function_arn": function}))
"#;

/// The stack's outputs, as template.yaml declares them.
fn template_outputs() -> Vec<String> {
    let template = std::fs::read_to_string(workspace_root().join("template.yaml")).unwrap();
    let mut outputs = Vec::new();
    let mut inside = false;
    for line in template.lines() {
        if !line.starts_with(' ') && !line.is_empty() && !line.starts_with('#') {
            inside = line.starts_with("Outputs:");
        } else if let Some(name) = line
            .strip_prefix("  ")
            .filter(|l| inside && !l.starts_with(' '))
            .and_then(|l| l.strip_suffix(':'))
        {
            outputs.push(name.to_string());
        }
    }
    assert!(outputs.len() > 5, "template.yaml's outputs: {outputs:?}");
    outputs
}

fn python(stack: &Stack, python: &str, script: &str, input: &Value, home: &Path) -> Value {
    use std::io::Write;
    let mut child = stack
        .command(python)
        .args(["-c", script])
        .env("HOME", home)
        .env("SAM_CLI_TELEMETRY", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{python}: {}", shown(&output));
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{python} printed no JSON ({e}): {}", shown(&output)))
}

/// The SAM CLI's python: its venv, which `scripts/check-template` installs on first use.
fn sam_python() -> PathBuf {
    let cache = std::env::var_os("STEWARD_CACHE")
        .filter(|c| !c.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/ecr-steward")
        });
    if !cache.join("sam-venv/bin/sam").is_file() {
        let output = Command::new(workspace_root().join("scripts/check-template"))
            .arg("--expand")
            .current_dir(workspace_root())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "scripts/check-template --expand (which installs the SAM CLI): {}",
            shown(&output)
        );
    }
    let python = cache.join("sam-venv/bin/python");
    assert!(python.is_file(), "{} is missing", python.display());
    python
}

/// The AWS CLI, when one is installed. A version 1 CLI gets a wrapper that drops
/// `--cli-binary-format` (version 2's option; version 1 reads `file://` blobs raw already) and
/// passes `--endpoint-url` (version 1's SQS commands ignore `AWS_ENDPOINT_URL`).
fn aws_cli(bin: &Path) -> Option<PathBuf> {
    let aws = which("aws")?;
    let version = Command::new(&aws).arg("--version").output().ok()?;
    let version = format!("{}{}", text(&version.stdout), text(&version.stderr));
    if version.starts_with("aws-cli/1.") {
        let wrapper = bin.join("aws");
        std::fs::write(
            &wrapper,
            format!(
                "#!/usr/bin/env bash\n# {}\n\
                 # AWS CLI v1: --cli-binary-format is v2's (v1 reads file:// blobs raw), and its\n\
                 # SQS commands ignore AWS_ENDPOINT_URL.\n\
                 args=(); skip=0\n\
                 case \" $* \" in *\" --endpoint-url \"*) ;; *) [ -n \"$AWS_ENDPOINT_URL\" ] && args+=(--endpoint-url \"$AWS_ENDPOINT_URL\") ;; esac\n\
                 for a in \"$@\"; do\n\
                 \x20 if [ $skip = 1 ]; then skip=0; continue; fi\n\
                 \x20 case $a in --cli-binary-format) skip=1 ;; --cli-binary-format=*) ;; *) args+=(\"$a\") ;; esac\n\
                 done\n\
                 exec {} \"${{args[@]}}\"\n",
                version.trim(),
                quoted(&aws.to_string_lossy())
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    Some(aws)
}

// ---------------------------------------------------------------- the test

#[tokio::test(flavor = "current_thread")]
async fn every_documented_command_runs() {
    let started = std::time::Instant::now();
    let root = workspace_root();
    let files = doc_files();
    let blocks: Vec<Vec<Block>> = files
        .iter()
        .map(|file| shell_blocks(file, &std::fs::read_to_string(root.join(file)).unwrap()))
        .collect();
    let count: usize = blocks.iter().map(Vec::len).sum();
    assert!(count >= 10, "only {count} shell blocks in {files:?}");

    // The docs' example policy: the one docs/policy.md opens with.
    let policy_md = std::fs::read_to_string(root.join("docs/policy.md")).unwrap();
    let start = policy_md
        .find("```yaml\n")
        .expect("docs/policy.md's example")
        + 8;
    let example = policy_md[start..start + policy_md[start..].find("```").unwrap()].to_string();
    assert!(example.contains("replication:"), "{example}");

    // The test bed, with team/web as the docs name it: v1.4.2, 1.4.2 and latest, one image,
    // labelled, scanning on push, scanned clean.
    let stack = Stack::start();
    stack.create_repository(US, "team/web", true).await;
    // The destination of `replicate --to eu-west-1` exists, as it must without
    // --create-repository.
    stack.create_repository("eu-west-1", "team/web", true).await;
    let spec = |tag: &str| {
        PushSpec::new(US, "team/web")
            .tag(tag)
            .seed("doc-commands")
            .labels(LABELS.iter().copied())
    };
    let image = stack.push_image(&spec("v1.4.2"));
    for tag in ["1.4.2", "latest"] {
        assert_eq!(stack.push_image(&spec(tag)).digest, image.digest);
    }
    stack.scan(&ScanResult::complete(&image)).await;

    // The reader's directory: a clone's template.yaml and samconfig.toml, and policy.yaml.
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("reader");
    let bin = scratch.path().join("bin");
    let home = scratch.path().join("home");
    for d in [&dir, &bin, &home] {
        std::fs::create_dir_all(d).unwrap();
    }
    for file in ["template.yaml", "samconfig.toml"] {
        std::os::unix::fs::symlink(root.join(file), dir.join(file)).unwrap();
    }
    std::os::unix::fs::symlink(function_binary("ecr-steward"), bin.join("ecr-steward")).unwrap();
    let aws = aws_cli(&bin);
    eprintln!(
        "AWS CLI: {}",
        aws.as_ref()
            .map_or("none: aws commands are checked, not run".into(), |a| a
                .display()
                .to_string())
    );

    // What the docs' AWS commands find: the stack's outputs, its failure queue with an
    // on-failure record and an undelivered EventBridge event, a chat subscription, a bucket.
    let push = |repository: &str, tag: &str| {
        event_from_sample("image-push-semver.json", |event| {
            event["detail"]["repository-name"] = repository.into();
            event["detail"]["image-tag"] = tag.into();
        })
    };
    let failed = push("team/web", "v1.4.2");
    let undelivered = push("team/api", "2.0.0");
    let on_failure = json!({
        "version": "1.0",
        "timestamp": "2026-11-20T21:41:07.000Z",
        "requestContext": {
            "requestId": "c7ba0ac4-4b24-4d0c-9f34-0c9a1e0f7a11",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:ecr-steward-PushGuardFunction:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3
        },
        "requestPayload": failed,
        "responseContext": { "statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled" },
        "responsePayload": { "errorType": "Retryable.Throttled", "errorMessage": "throttled" }
    });
    let made = python(
        &stack,
        stack.python(),
        SETUP,
        &json!({
            "failure_records": [on_failure, undelivered],
            "outputs": template_outputs(),
            "seed": if aws.is_none() { Some(&example) } else { None },
        }),
        &home,
    );
    let mut made: BTreeMap<String, String> = made
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    made.insert(
        "replay_events".into(),
        json!([failed, undelivered]).to_string(),
    );
    eprintln!("set up in {:?}", started.elapsed());

    let mut reader = Reader {
        stack: &stack,
        dir,
        bin,
        home,
        scratch: scratch.path().to_path_buf(),
        example,
        aws,
        made,
        releases: Vec::new(),
        failures: Vec::new(),
        records: Vec::new(),
        programs: BTreeMap::new(),
        used_expected: BTreeSet::new(),
        used_not_run: BTreeSet::new(),
        sam_checks: Vec::new(),
        parameter_checks: Vec::new(),
        aws_checks: Vec::new(),
        again: Vec::new(),
        filter_policy: None,
        replayed: false,
        fanned_out: false,
    };
    for (index, chapter) in blocks.iter().enumerate() {
        reader.chapter(chapter, index);
    }

    // The commands that ran after their chapter replaced policy.yaml, again on the example.
    for (at, command) in std::mem::take(&mut reader.again) {
        reader.write_example();
        let mut session = Session {
            file: reader.scratch.join("session-again.sh"),
            ..Session::default()
        };
        let at = format!("{at} (again, on the example policy)");
        let mut record = Record {
            at: at.clone(),
            command: command.clone(),
            ran: Vec::new(),
            checked: Vec::new(),
        };
        reader.unit(&mut session, &at, &command, &command, &mut record);
        reader.records.push(record);
    }

    check_sam(&mut reader);
    check_aws(&mut reader);
    check_written_files(&mut reader);
    check_moto(&mut reader).await;
    check_tables(&mut reader);

    // The account of what ran and what was checked.
    let (mut ran, mut partly, mut checked) = (0, 0, 0);
    for record in &reader.records {
        match (record.ran.is_empty(), record.checked.is_empty()) {
            (false, true) => ran += 1,
            (false, false) => partly += 1,
            _ => checked += 1,
        }
        eprintln!("{}: {}", record.at, record.command);
        for line in &record.ran {
            eprintln!("    ran: {line}");
        }
        for line in &record.checked {
            eprintln!("    checked: {line}");
        }
    }
    eprintln!(
        "{} documented commands in {count} blocks: {ran} run, {partly} partly run and partly checked, {checked} checked; programs named {:?}; {:?}",
        reader.records.len(),
        reader.programs,
        started.elapsed()
    );
    assert!(
        reader.failures.is_empty(),
        "{} problems:\n\n{}",
        reader.failures.len(),
        reader.failures.join("\n\n")
    );
}

/// The `sam` commands through SAM CLI's parser, and other tools' stack parameters: a
/// `file://` parameter file, or `PolicyDocument=$(cat policy.json)`, gives the PolicyDocument
/// that `ecr-steward policy parameter` prints, to the byte.
fn check_sam(reader: &mut Reader<'_>) {
    // Canaries first: commands the checker must refuse, so that it is known to refuse.
    let canaries = [
        vec![
            "deploy",
            "--guided",
            "--parameter-overrides",
            "Mode=enforcing",
        ],
        vec![
            "deploy",
            "--guided",
            "--parameter-overrides",
            "PolicyBucket=platform-config",
        ],
        vec!["deploy", "--guided", "--parameter-overides", "Mode=audit"],
    ];
    let mut sam: Vec<Value> = canaries
        .iter()
        .map(|args| json!({ "dir": reader.dir, "args": args }))
        .collect();
    sam.extend(
        reader
            .sam_checks
            .iter()
            .map(|c| json!({ "dir": c.dir, "args": c.args })),
    );
    let mut parameters = vec![json!({ "RepositoryPrefix": "Team A" })];
    parameters.extend(reader.parameter_checks.iter().map(|c| json!(c.overrides)));
    let input = json!({
        "sam": sam,
        "template": workspace_root().join("template.yaml"),
        "parameters": parameters,
    });
    let results = python(
        reader.stack,
        &sam_python().to_string_lossy(),
        SAM_CHECK,
        &input,
        &reader.home,
    );
    let mut failures = Vec::new();
    let mut locations = Vec::new();
    let sam = results["sam"].as_array().unwrap();
    let parameters = results["parameters"].as_array().unwrap();
    for (args, result) in canaries.iter().zip(sam) {
        assert!(
            !result["errors"].as_array().unwrap().is_empty(),
            "SAM's check passes `sam {}`: {result}",
            args.join(" ")
        );
    }
    assert!(
        !parameters[0].as_array().unwrap().is_empty(),
        "the parameter check passes RepositoryPrefix=Team A"
    );
    for (check, result) in reader.sam_checks.iter().zip(&sam[canaries.len()..]) {
        let command = format!("sam {}", check.args.join(" "));
        for error in result["errors"].as_array().unwrap() {
            failures.push(format!(
                "{}: {command}: {}",
                check.at,
                error.as_str().unwrap()
            ));
        }
        let overrides = &result["overrides"];
        if let Some(document) = &check.document {
            if overrides["PolicyDocument"].as_str() != Some(document.as_str()) {
                failures.push(format!(
                    "{}: {command}: SAM reads PolicyDocument as\n{}\nnot as `ecr-steward policy parameter policy.yaml` prints it:\n{document}",
                    check.at, overrides["PolicyDocument"]
                ));
            }
        }
        if let (Some(bucket), Some(key)) = (
            overrides["PolicyBucket"].as_str(),
            overrides["PolicyObjectKey"].as_str(),
        ) {
            locations.push((check.at.clone(), format!("s3://{bucket}/{key}")));
        }
        eprintln!("{}: {command}: SAM reads {overrides}", check.at);
    }
    for (check, errors) in reader.parameter_checks.iter().zip(&parameters[1..]) {
        for error in errors.as_array().unwrap() {
            failures.push(format!(
                "{}: {}: {}",
                check.at,
                check.command,
                error.as_str().unwrap()
            ));
        }
        if let Some(document) = &check.document {
            if check.overrides.get("PolicyDocument") != Some(document) {
                failures.push(format!(
                    "{}: {}: PolicyDocument is\n{:?}\nnot as `ecr-steward policy parameter policy.yaml` prints it:\n{document}",
                    check.at, check.command, check.overrides.get("PolicyDocument")
                ));
            }
        }
        if let (Some(bucket), Some(key)) = (
            check.overrides.get("PolicyBucket"),
            check.overrides.get("PolicyObjectKey"),
        ) {
            locations.push((check.at.clone(), format!("s3://{bucket}/{key}")));
        }
    }
    // A policy in S3: the location the parameters name holds the policy the docs uploaded.
    for (at, location) in locations {
        let output = reader
            .command("ecr-steward")
            .args(["policy", "validate", &location])
            .output()
            .unwrap();
        if !output.status.success() {
            failures.push(format!(
                "{at}: the parameters name {location}, which holds no valid policy: {}",
                shown(&output)
            ));
        }
    }
    reader.failures.extend(failures);
}

fn check_aws(reader: &mut Reader<'_>) {
    let mut all = reader.aws_checks.clone();
    all.sort();
    all.dedup();
    // Canaries first: commands the checker must refuse.
    let canaries: [&[&str]; 4] = [
        &[
            "sns",
            "set-subscription-attributes",
            "--subscription-arn",
            "x",
            "--attribute-nam",
            "FilterPolicy",
        ],
        &["sqs", "receive-message"],
        &[
            "cloudformation",
            "wait",
            "stack-deleted",
            "--stack-name",
            "x",
        ],
        &["cloudformation", "describe-stacks", "--query", "Stacks[0"],
    ];
    let mut input: Vec<Value> = canaries.iter().map(|argv| json!(argv)).collect();
    input.extend(all.iter().map(|(_, argv)| json!(argv)));
    let results = python(
        reader.stack,
        reader.stack.python(),
        AWS_CHECK,
        &Value::from(input),
        &reader.home,
    );
    let results = results.as_array().unwrap();
    for (argv, errors) in canaries.iter().zip(results) {
        assert!(
            !errors.as_array().unwrap().is_empty(),
            "botocore's check passes `aws {}`",
            argv.join(" ")
        );
    }
    for ((at, argv), errors) in all.iter().zip(&results[canaries.len()..]) {
        for error in errors.as_array().unwrap() {
            reader.failures.push(format!(
                "{at}: aws {}: {}",
                argv.join(" "),
                error.as_str().unwrap()
            ));
        }
    }
}

/// The files the docs' commands write, as the docs describe them.
fn check_written_files(reader: &mut Reader<'_>) {
    let read = |name: &str| std::fs::read_to_string(reader.dir.join(name)).ok();
    let mut failures = Vec::new();
    if let Some(csv) = read("findings.csv") {
        let header =
            "region,repository,kind,check,rule,tag,digest,destination,found_digest,message\r\n";
        if !csv.starts_with(header) || !csv.contains("tag.literals.deny") {
            failures.push(format!("findings.csv is not the documented CSV:\n{csv}"));
        }
    }
    if let Some(policy) = read("policy.json") {
        match serde_json::from_str::<Value>(&policy) {
            Ok(v) if v["Version"] == "2012-10-17" && v["Statement"].is_array() => {}
            _ => failures.push(format!("policy.json is not an IAM policy:\n{policy}")),
        }
    }
    reader.failures.extend(failures);
}

/// What the docs' AWS commands and `--fan-out` left in moto.
async fn check_moto(reader: &mut Reader<'_>) {
    use aws_sdk_sqs::types::QueueAttributeName as Attribute;
    let sdk = reader.stack.sdk_config(US);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let depth = |url: String| {
        let sqs = sqs.clone();
        async move {
            let attributes = sqs
                .get_queue_attributes()
                .queue_url(url)
                .attribute_names(Attribute::All)
                .send()
                .await
                .unwrap()
                .attributes
                .unwrap_or_default();
            [
                Attribute::ApproximateNumberOfMessages,
                Attribute::ApproximateNumberOfMessagesNotVisible,
            ]
            .iter()
            .map(|a| {
                attributes
                    .get(a)
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0)
            })
            .sum::<usize>()
        }
    };
    if reader.fanned_out {
        // One copy job per image: team/web has one.
        let jobs = depth(reader.made("copy_queue").to_string()).await;
        if jobs != 1 {
            reader.failures.push(format!(
                "`replicate --fan-out` queued {jobs} copy jobs, not 1 (team/web's one image)"
            ));
        }
    }
    if reader.replayed {
        let left = depth(reader.made("failure_queue").to_string()).await;
        if left != 0 {
            reader.failures.push(format!(
                "the replay left {left} records in the failure queue"
            ));
        }
    }
    if let Some((arn, expected)) = reader.filter_policy.clone() {
        let attributes = aws_sdk_sns::Client::new(&sdk)
            .get_subscription_attributes()
            .subscription_arn(&arn)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap_or_default();
        let set: Option<Value> = attributes
            .get("FilterPolicy")
            .and_then(|p| serde_json::from_str(p).ok());
        if set.as_ref() != Some(&expected) {
            reader.failures.push(format!(
                "the subscription's FilterPolicy is {set:?}, not the documented {expected}"
            ));
        }
    }
}

/// Entries no documented command matches any more fail the test, so the tables stay true.
fn check_tables(reader: &mut Reader<'_>) {
    for (command, ..) in EXPECTED {
        if !reader.used_expected.contains(command) {
            reader.failures.push(format!(
                "EXPECTED has an entry no documented command matches: {command}"
            ));
        }
    }
    for (command, _) in NOT_RUN {
        if !reader.used_not_run.contains(command) {
            reader.failures.push(format!(
                "NOT_RUN has an entry no documented command matches: {command}"
            ));
        }
    }
}

// ---------------------------------------------------------------- the splitter itself

#[test]
fn the_splitter_splits_as_bash_does() {
    let script = "\
make demo   # a comment
a() { aws cloudformation describe-stacks --stack-name x \\
  --query \"Stacks[0].Outputs[?OutputKey=='$1'].OutputValue\" --output text; }
queue=$(a FailureQueueUrl)
aws sqs receive-message --queue-url \"$queue\" |
jq -c '.[] | {r: .[0]}' |
while read -r record; do
  jq -c .event <<<\"$record\" > event.json
  aws sqs delete-message --receipt-handle \"$(jq -r .r <<<\"$record\")\" && echo done
done
ecr-steward policy parameter policy.yaml --format sam > p.yaml &&
sam deploy --parameter-overrides file://p.yaml Mode=policy
echo 'it''s' 2>&1 # another
cat > p.json <<'EOF'
[ \"not $(a command)\" ]
EOF
source <(ecr-steward completions bash)
for f in a-*.zip \"b\"; do gh attestation verify \"$f\" || break; done
";
    // Per command: the functions it defines, and each simple command's program and depth.
    type Shape = (Vec<String>, Vec<(String, usize)>);
    let (found, code) = logicals(script);
    let shape: Vec<Shape> = found
        .iter()
        .map(|l| {
            (
                l.defines.clone(),
                l.simples
                    .iter()
                    .map(|s| (s.program().unwrap_or("=").to_string(), s.depth))
                    .collect(),
            )
        })
        .collect();
    let expected: Vec<Shape> = vec![
        (vec![], vec![("make".into(), 0)]),
        (vec!["a".into()], vec![("aws".into(), 1)]),
        (vec![], vec![("a".into(), 1), ("=".into(), 0)]),
        (
            vec![],
            vec![
                ("aws".into(), 0),
                ("jq".into(), 0),
                ("read".into(), 1),
                ("jq".into(), 1),
                ("jq".into(), 2),
                ("aws".into(), 1),
                ("echo".into(), 1),
            ],
        ),
        (vec![], vec![("ecr-steward".into(), 0), ("sam".into(), 0)]),
        (vec![], vec![("echo".into(), 0)]),
        (vec![], vec![("cat".into(), 0)]),
        (
            vec![],
            vec![("ecr-steward".into(), 1), ("source".into(), 0)],
        ),
        (vec![], vec![("gh".into(), 1), ("break".into(), 1)]),
    ];
    assert_eq!(shape, expected);
    assert_eq!(found[2].simples[1].assigns, ["queue"]);
    let chained = &found[4];
    assert_eq!(chained.pipelines.len(), 2);
    assert_eq!(
        normalized(&code, &chained.pipelines[0]),
        "ecr-steward policy parameter policy.yaml --format sam > p.yaml"
    );
    assert_eq!(
        normalized(&code, &chained.pipelines[1]),
        "sam deploy --parameter-overrides file://p.yaml Mode=policy"
    );
    assert_eq!(normalized(&code, &found[0].span), "make demo");
    assert_eq!(found[5].simples[0].words, ["echo", "its"]);
    assert_eq!(normalized(&code, &found[5].span), "echo 'it''s' 2>&1");
    assert_eq!(
        found[1].simples[0].words[6],
        "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue"
    );
    // A here-document's body is part of its command, and no command of its own.
    assert_eq!(
        normalized(&code, &found[6].span),
        "cat > p.json <<'EOF' [ \"not $(a command)\" ] EOF"
    );
    assert_eq!(
        found[8].simples[0].raw,
        ["gh", "attestation", "verify", "\"$f\""]
    );
}

#[test]
fn blocks_are_found_as_a_reader_sees_them() {
    let text = "\
```sh
one
```
1. a step:

   ```bash
   two \\
     --flag
   ```
````markdown
```sh
not a block
```
````
```console
$ three
output
$ four \\
  --more
```
```yaml
run: five
```
";
    let blocks = shell_blocks("x.md", text);
    let texts: Vec<&str> = blocks.iter().map(|b| b.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "one\n",
            "two \\\n  --flag\n",
            "three\n\nfour \\\n  --more\n"
        ]
    );
    assert_eq!(
        blocks.iter().map(|b| b.line).collect::<Vec<_>>(),
        [2, 7, 16]
    );
}
