//! The docs: README.md and the book under docs/ (mdBook, docs/SUMMARY.md), checked offline:
//! - every relative link resolves: the file exists and, with `#anchor`, the anchor is a heading
//!   of it (GitHub's and mdBook's slugs); a link of the book stays inside docs/, so it works
//!   both on GitHub and in the built book; every chapter is in SUMMARY.md;
//! - what the docs list of template.yaml is the template's: the parameters (the deployment
//!   chapter's table, with their defaults), the functions (the resources table, the events of
//!   each function, the metrics' `Function` values), the alarms, and the counts of functions,
//!   log groups and alarms written in words.

// An integration test: a failed step is a failed test, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_yaml::Value;
use testbed::workspace_root;

// ---------------------------------------------------------------- markdown, as far as needed

/// The text of a markdown file with its fenced code blocks and inline code spans blanked
/// (replaced by spaces, newlines kept), so line numbers and columns stay those of the file.
fn prose(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut fence: Option<(char, usize)> = None;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let marker = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
        let run = marker.map_or(0, |m| trimmed.chars().take_while(|c| *c == m).count());
        match (fence, marker) {
            (None, Some(m)) if run >= 3 => {
                fence = Some((m, run));
                out.push_str(&blank(line));
            }
            (Some((m, n)), Some(c)) if c == m && run >= n && trimmed[run..].trim().is_empty() => {
                fence = None;
                out.push_str(&blank(line));
            }
            (Some(_), _) => out.push_str(&blank(line)),
            (None, _) => out.push_str(line),
        }
    }
    // Inline code, within a paragraph (it may span lines, not a blank line).
    let mut result = String::with_capacity(out.len());
    for (i, paragraph) in out.split("\n\n").enumerate() {
        if i > 0 {
            result.push_str("\n\n");
        }
        result.push_str(&blank_code_spans(paragraph));
    }
    result
}

fn blank(text: &str) -> String {
    text.chars()
        .map(|c| if c == '\n' { '\n' } else { ' ' })
        .collect()
}

/// A run of N backticks opens a span that the next run of exactly N backticks closes;
/// an unclosed run is literal.
fn blank_code_spans(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = chars.clone();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '`' {
            i += 1;
            continue;
        }
        let run = chars[i..].iter().take_while(|c| **c == '`').count();
        let mut j = i + run;
        let mut close = None;
        while j < chars.len() {
            if chars[j] == '`' {
                let other = chars[j..].iter().take_while(|c| **c == '`').count();
                if other == run {
                    close = Some(j);
                    break;
                }
                j += other;
            } else {
                j += 1;
            }
        }
        match close {
            Some(j) => {
                for c in &mut out[i..j + run] {
                    if *c != '\n' {
                        *c = ' ';
                    }
                }
                i = j + run;
            }
            None => i += run,
        }
    }
    out.into_iter().collect()
}

/// The headings of a markdown file (ATX, outside code blocks), as written.
fn headings(text: &str) -> Vec<String> {
    let mut fence: Option<(char, usize)> = None;
    let mut found = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        let marker = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
        let run = marker.map_or(0, |m| trimmed.chars().take_while(|c| *c == m).count());
        match (fence, marker) {
            (None, Some(m)) if run >= 3 => fence = Some((m, run)),
            (Some((m, n)), Some(c)) if c == m && run >= n && trimmed[run..].trim().is_empty() => {
                fence = None
            }
            (Some(_), _) => {}
            (None, _) => {
                let hashes = line.chars().take_while(|c| *c == '#').count();
                if (1..=6).contains(&hashes) && line[hashes..].starts_with(' ') {
                    found.push(
                        line[hashes..]
                            .trim()
                            .trim_end_matches('#')
                            .trim()
                            .to_string(),
                    );
                }
            }
        }
    }
    found
}

/// A heading's anchor as GitHub and mdBook make it: the text without markup, lowercase, every
/// character but letters, digits, `-` and `_` dropped, and each space a `-`.
fn slug(heading: &str) -> String {
    // [text](target) reads as its text.
    let mut text = String::new();
    let mut rest = heading;
    while let Some(open) = rest.find('[') {
        match rest[open..].find("](") {
            Some(mid) => match rest[open + mid..].find(')') {
                Some(close) => {
                    text.push_str(&rest[..open]);
                    text.push_str(&rest[open + 1..open + mid]);
                    rest = &rest[open + mid + close + 1..];
                }
                None => break,
            },
            None => break,
        }
    }
    text.push_str(rest);
    text.trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// Every anchor of a markdown file: each heading's slug, and a repeated one's `-1`, `-2`, ….
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut found = BTreeSet::new();
    for heading in headings(text) {
        let base = slug(&heading);
        let count = seen.entry(base.clone()).or_insert(0);
        found.insert(if *count == 0 {
            base.clone()
        } else {
            format!("{base}-{count}")
        });
        *count += 1;
    }
    found
}

/// The inline links and images of a markdown file, `[text](target)`, outside code: (line,
/// target).
fn links(text: &str) -> Vec<(usize, String)> {
    let prose = prose(text);
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(found_at) = prose[at..].find("](") {
        let start = at + found_at + 2;
        let target: String = prose[start..]
            .chars()
            .take_while(|c| *c != ')' && !c.is_whitespace())
            .collect();
        let line = prose[..start].matches('\n').count() + 1;
        found.push((line, target.trim_matches(['<', '>']).to_string()));
        at = start;
    }
    found
}

fn docs_dir() -> PathBuf {
    workspace_root().join("docs")
}

/// README.md and every markdown file under docs/.
fn markdown_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read docs/") {
            let path = entry.expect("a docs/ entry").path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "md") {
                found.push(path);
            }
        }
    }
    let mut found = vec![workspace_root().join("README.md")];
    walk(&docs_dir(), &mut found);
    found.sort();
    found
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn shown(path: &Path) -> String {
    path.strip_prefix(workspace_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// `path` without `.` and `..` (the file need not exist).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

// ---------------------------------------------------------------- links

#[test]
fn every_relative_link_resolves() {
    let docs = docs_dir();
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in markdown_files() {
        let text = read(&file);
        for (line, target) in links(&text) {
            if target.is_empty()
                || target.starts_with("http://")
                || target.starts_with("https://")
                || target.starts_with("mailto:")
            {
                continue;
            }
            checked += 1;
            let place = format!("{}:{line}: ({target})", shown(&file));
            let (path, anchor) = match target.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (target.as_str(), None),
            };
            let resolved = if path.is_empty() {
                file.clone()
            } else {
                normalize(&file.parent().expect("a folder").join(path))
            };
            if file.starts_with(&docs) && !resolved.starts_with(&docs) {
                broken.push(format!(
                    "{place}: leaves docs/, so the built book cannot follow it (name the file in code instead)"
                ));
                continue;
            }
            if !resolved.exists() {
                broken.push(format!("{place}: no such file {}", shown(&resolved)));
                continue;
            }
            if let Some(anchor) = anchor {
                if resolved.extension().is_none_or(|e| e != "md") {
                    broken.push(format!(
                        "{place}: an anchor into a file that is not markdown"
                    ));
                } else if !anchors(&read(&resolved)).contains(anchor) {
                    broken.push(format!(
                        "{place}: {} has no heading with the anchor #{anchor}",
                        shown(&resolved)
                    ));
                }
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} links found: is the parser right?"
    );
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn every_chapter_is_in_the_summary() {
    let docs = docs_dir();
    let summary = read(&docs.join("SUMMARY.md"));
    let listed: BTreeSet<PathBuf> = links(&summary)
        .into_iter()
        .map(|(_, target)| normalize(&docs.join(target.split('#').next().unwrap_or_default())))
        .collect();
    let missing: Vec<String> = markdown_files()
        .into_iter()
        .filter(|file| file.starts_with(&docs) && !file.ends_with("SUMMARY.md"))
        .filter(|file| !listed.contains(file))
        .map(|file| shown(&file))
        .collect();
    assert!(
        missing.is_empty(),
        "in docs/ but not in docs/SUMMARY.md (the book would leave them out): {missing:?}"
    );
    let book = read(&docs.join("book.toml"));
    assert!(book.contains("src = \".\""), "docs/book.toml: {book}");
}

#[test]
fn the_link_parser_sees_what_a_reader_sees() {
    let text = "# A `code` heading\n\nSee [one](a.md#b-c) and `[not](x.md)`.\n\n```md\n[no](y.md)\n## Not a heading\n```\n\n## Cost sketch, per million events\n## Twice\n## Twice\n";
    assert_eq!(
        links(text),
        vec![(3, "a.md#b-c".to_string())],
        "links outside code only"
    );
    assert_eq!(
        anchors(text),
        [
            "a-code-heading",
            "cost-sketch-per-million-events",
            "twice",
            "twice-1"
        ]
        .into_iter()
        .map(String::from)
        .collect()
    );
    assert_eq!(
        slug("`ecr-steward policy validate SOURCE`"),
        "ecr-steward-policy-validate-source"
    );
    assert_eq!(slug("From audit → enforce"), "from-audit--enforce");
}

// ---------------------------------------------------------------- the template

/// template.yaml as YAML: CloudFormation's short tags (`!Ref`, `!Sub`, …) are tagged values.
fn template() -> Value {
    serde_yaml::from_str(&read(&workspace_root().join("template.yaml"))).expect("template.yaml")
}

/// The template's resources of `kind`, by logical id.
fn resources(template: &Value, kind: &str) -> BTreeMap<String, Value> {
    template["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, resource)| resource["Type"].as_str() == Some(kind))
        .map(|(id, resource)| (id.as_str().expect("an id").to_string(), resource.clone()))
        .collect()
}

/// The functions: logical id and binary (`PushGuardFunction`, `push-guard`).
fn functions(template: &Value) -> BTreeMap<String, String> {
    resources(template, "AWS::Serverless::Function")
        .into_iter()
        .map(|(id, resource)| {
            let binary = resource["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap_or_else(|| panic!("{id}: Metadata.BuildProperties.Binary"))
                .to_string();
            (id, binary)
        })
        .collect()
}

/// The alarms' names after `${AWS::StackName}-`.
fn alarms(template: &Value) -> BTreeSet<String> {
    resources(template, "AWS::CloudWatch::Alarm")
        .into_iter()
        .map(|(id, resource)| {
            let name = match &resource["Properties"]["AlarmName"] {
                Value::Tagged(tagged) => tagged.value.as_str().map(str::to_string),
                other => other.as_str().map(str::to_string),
            }
            .unwrap_or_else(|| panic!("{id}: AlarmName"));
            name.strip_prefix("${AWS::StackName}-")
                .unwrap_or_else(|| panic!("{id}: {name} does not start with the stack name"))
                .to_string()
        })
        .collect()
}

/// The rows of the first table after `heading` (a line of the file) whose header row starts
/// with `header`, as cells.
fn table(text: &str, heading: &str, header: &str) -> Vec<Vec<String>> {
    let section = &text[text
        .find(heading)
        .unwrap_or_else(|| panic!("no `{heading}`"))..];
    let mut lines = section
        .lines()
        .skip_while(|line| !line.starts_with(header))
        .skip(2);
    let mut rows = Vec::new();
    for line in lines.by_ref() {
        if !line.starts_with('|') {
            break;
        }
        rows.push(
            line.trim()
                .trim_matches('|')
                .split(" | ")
                .map(|cell| cell.trim().to_string())
                .collect(),
        );
    }
    assert!(!rows.is_empty(), "no table `{header}` after `{heading}`");
    rows
}

/// The `code` spans of a table cell or a line.
fn code_spans(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn chapter(name: &str) -> String {
    read(&docs_dir().join(name))
}

#[test]
fn the_parameter_table_is_the_templates() {
    let template = template();
    let parameters = template["Parameters"].as_mapping().expect("Parameters");
    let deployment = chapter("deployment.md");
    let mut documented = BTreeSet::new();
    let mut wrong = Vec::new();
    for row in table(&deployment, "\n## Parameters\n", "| parameter |") {
        for name in code_spans(&row[0]) {
            let Some(parameter) = parameters.get(name.as_str()) else {
                wrong.push(format!(
                    "`{name}` is documented but template.yaml has no such parameter"
                ));
                continue;
            };
            documented.insert(name.clone());
            let default = match &parameter["Default"] {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                other => Some(format!("{other:?}")),
            };
            let expected = match default.as_deref() {
                None => "required".to_string(),
                Some("") => "empty".to_string(),
                Some(value) => format!("`{value}`"),
            };
            if row[1] != expected {
                wrong.push(format!(
                    "`{name}`: the docs' default is {}, the template's {expected}",
                    row[1]
                ));
            }
        }
    }
    for name in parameters.keys().filter_map(Value::as_str) {
        if !documented.contains(name) {
            wrong.push(format!(
                "template.yaml's parameter `{name}` is not in docs/deployment.md's table"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "docs/deployment.md, Parameters:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_functions_named_in_the_docs_are_the_templates() {
    let template = template();
    let functions = functions(&template);
    assert!(!functions.is_empty());

    // The resources table of the deployment chapter: `PushGuardFunction` (`push-guard`).
    let deployment = chapter("deployment.md");
    let documented: BTreeMap<String, String> =
        table(&deployment, "# Deploy from source", "| resource |")
            .into_iter()
            .filter_map(|row| {
                let spans = code_spans(&row[0]);
                let id = spans.first()?.clone();
                id.ends_with("Function")
                    .then(|| (id, spans.get(1).cloned().unwrap_or_default()))
            })
            .collect();
    assert_eq!(
        documented, functions,
        "docs/deployment.md's resources table against template.yaml's functions"
    );

    // The events each function handles.
    let chapter_text = chapter("functions.md");
    let events = &chapter_text[chapter_text.find("\n## Events\n").expect("## Events")..];
    let events = &events[..events[1..]
        .find("\n## ")
        .map_or(events.len(), |end| end + 1)];
    let listed: BTreeSet<String> = events
        .lines()
        .filter_map(|line| line.strip_prefix("- **"))
        .filter_map(|line| line.split_once("**:").map(|(name, _)| name.to_string()))
        .collect();
    let binaries: BTreeSet<String> = functions.values().cloned().collect();
    assert_eq!(
        listed, binaries,
        "docs/functions.md, Events: a `- **name**:` entry per function"
    );

    // The metrics' `Function` dimension.
    let operations = chapter("operations.md");
    let line = operations
        .lines()
        .find(|line| line.starts_with("`Function` is "))
        .expect("docs/operations.md: \"`Function` is …\"");
    let values: BTreeSet<String> = code_spans(line.split('.').next().unwrap_or_default())
        .into_iter()
        .filter(|value| value != "Function")
        .collect();
    assert_eq!(values, binaries, "docs/operations.md: {line}");
}

#[test]
fn the_alarms_named_in_the_docs_are_the_templates() {
    let template = template();
    let alarms = alarms(&template);
    assert!(!alarms.is_empty());
    let operations = chapter("operations.md");
    let documented: BTreeSet<String> = table(&operations, "## Metrics and alarms", "| alarm |")
        .into_iter()
        .map(|row| {
            let name = code_spans(&row[0]).first().cloned().unwrap_or_default();
            name.strip_prefix("<stack name>-")
                .unwrap_or_else(|| panic!("an alarm row without `<stack name>-…`: {row:?}"))
                .to_string()
        })
        .collect();
    assert_eq!(
        documented, alarms,
        "docs/operations.md's alarm table against template.yaml's alarms"
    );
}

/// "both functions", "the four log groups", "each of the 6 alarms": a count in the docs is the
/// template's.
#[test]
fn counts_in_words_are_the_templates() {
    let template = template();
    let counts = [
        ("functions", functions(&template).len()),
        (
            "log groups",
            resources(&template, "AWS::Logs::LogGroup").len(),
        ),
        ("alarms", alarms(&template).len()),
    ];
    let number = |word: &str| -> Option<usize> {
        let words = [
            "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        ];
        match word {
            "both" => Some(2),
            word => words
                .iter()
                .position(|w| *w == word)
                .or_else(|| word.parse().ok()),
        }
    };
    let mut wrong = Vec::new();
    for file in markdown_files() {
        let text = prose(&read(&file)).to_lowercase();
        // Split at white space, then trim punctuation: `CT.LAMBDA.PR.3 (functions` is no count.
        let words: Vec<&str> = text
            .split_whitespace()
            .map(|w| w.trim_matches(|c: char| !(c.is_alphanumeric() || c == '-')))
            .filter(|w| !w.is_empty())
            .collect();
        for (what, count) in counts {
            let what: Vec<&str> = what.split(' ').collect();
            for at in 1..words.len() {
                if words[at..].starts_with(&what) {
                    if let Some(n) = number(words[at - 1]) {
                        if n != count {
                            wrong.push(format!(
                                "{}: \"{} {}\", the template has {count}",
                                shown(&file),
                                words[at - 1],
                                what.join(" ")
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

// ---------------------------------------------------------------- the example policy

/// The policy reference opens with a policy that uses every section: it loads as one.
#[test]
fn the_policy_references_example_is_a_policy() {
    let text = chapter("policy.md");
    let start = text.find("```yaml\n").expect("docs/policy.md: the example") + "```yaml\n".len();
    let example = &text[start..start + text[start..].find("```").expect("its end")];
    assert!(example.contains("replication:"), "{example}");
    if let Err(error) = steward::policy::Policy::from_text(
        example,
        "docs/policy.md",
        steward::policy::SourceFormat::Yaml,
    ) {
        panic!("docs/policy.md's example policy: {error}");
    }
}
