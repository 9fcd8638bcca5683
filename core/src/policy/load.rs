//! Reading a policy file, with errors that point at the line and column at fault.

use std::path::Path;

use super::model::Policy;

/// The syntax a policy is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    /// YAML.
    Yaml,
    /// JSON.
    Json,
}

impl SourceFormat {
    /// By extension; otherwise JSON when the text starts with `{`.
    pub fn detect(path: &Path, text: &str) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => SourceFormat::Json,
            Some("yaml" | "yml") => SourceFormat::Yaml,
            _ if text.trim_start().starts_with('{') => SourceFormat::Json,
            _ => SourceFormat::Yaml,
        }
    }
}

/// Why a policy could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read policy file {path}: {source}")]
    Read {
        /// The file's path, as given.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not a valid policy; the message says where and why.
    #[error("{}: {message}\n  hint: {hint}", locate(.origin, .position))]
    Invalid {
        /// Where the text came from: a path, or a name such as `built-in policy`.
        origin: String,
        /// 1-based line and column, when the parser knows them.
        position: Option<(usize, usize)>,
        /// What is wrong.
        message: String,
        /// How to fix it.
        hint: String,
    },
}

fn locate(origin: &str, position: &Option<(usize, usize)>) -> String {
    match position {
        Some((line, column)) => format!("{origin}:{line}:{column}"),
        None => origin.to_string(),
    }
}

impl Policy {
    /// Reads and validates a policy file; the format is detected by [`SourceFormat::detect`].
    pub fn from_file(path: &Path) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_text(
            &text,
            &path.display().to_string(),
            SourceFormat::detect(path, &text),
        )
    }

    /// Validates a policy given as text; `origin` names it in errors.
    pub fn from_text(text: &str, origin: &str, format: SourceFormat) -> Result<Self, PolicyError> {
        let invalid = |position, raw: String| {
            let (message, hint) = split_hint(&raw);
            PolicyError::Invalid {
                origin: origin.into(),
                position,
                message,
                hint,
            }
        };
        // Editors on Windows save a byte-order mark that YAML and JSON parsers read as text.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        if text.trim().is_empty() {
            return Err(invalid(
                None,
                "the policy file is empty; hint: start from `ecr-steward policy show-default`"
                    .into(),
            ));
        }
        let mut policy: Policy = match format {
            SourceFormat::Json => serde_json::from_str(text).map_err(|error| {
                let message = strip_position(&error.to_string());
                invalid(Some((error.line(), error.column())), message)
            })?,
            SourceFormat::Yaml => serde_yaml::from_str(text).map_err(|error| {
                let error_line = error.location().map_or(usize::MAX, |at| at.line());
                // A tab explains the error only when the parser stopped at or after it.
                if let Some(tab) = indented_with_tab(text).filter(|tab| tab.0 <= error_line) {
                    return invalid(
                        Some(tab),
                        format!("line {} is indented with a tab; YAML indents with spaces only; hint: replace the tab with spaces (two per level, as in the policy reference)", tab.0),
                    );
                }
                let position = error.location().map(|at| (at.line(), at.column()));
                invalid(position, strip_position(&error.to_string()))
            })?,
        };
        complete_rules(&mut policy);
        Ok(policy)
    }
}

/// Fills in what the file leaves to the loader: names and descriptions of the rules.
fn complete_rules(policy: &mut Policy) {
    for (index, rule) in policy.rules.iter_mut().enumerate() {
        if rule.name.is_empty() {
            rule.name = format!("rules[{index}]");
        }
        rule.allowed = rule.describe_allowed();
    }
}

/// The parsers append " at line L column C"; the error carries the position on its own.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_string(),
        None => message.to_string(),
    }
}

/// The first line whose indentation has a tab, and the tab's column.
fn indented_with_tab(text: &str) -> Option<(usize, usize)> {
    text.lines().enumerate().find_map(|(index, line)| {
        let indent = &line[..line.len() - line.trim_start().len()];
        indent.find('\t').map(|column| (index + 1, column + 1))
    })
}

/// Splits the `; hint: …` the model's own checks append, or derives a hint from serde's wording.
fn split_hint(message: &str) -> (String, String) {
    if let Some((message, hint)) = message.split_once("; hint: ") {
        return (message.into(), hint.into());
    }
    let hint = derive_hint(message);
    (plain_words(message), hint)
}

/// serde's wording names the program's types ("expected struct TagRules", "expected u64");
/// a policy's author knows mappings, lists, text and numbers.
fn plain_words(message: &str) -> String {
    let Some((path, rest)) = message
        .split_once("invalid type: ")
        .or_else(|| message.split_once("invalid value: "))
    else {
        return message.into();
    };
    let Some((found, expected)) = rest.rsplit_once(", expected ") else {
        return message.into();
    };
    format!(
        "{path}found {}, expected {}",
        found_as(found),
        expected_as(expected)
    )
}

fn found_as(found: &str) -> String {
    let value = |prefix: &str| found.strip_prefix(prefix).map(|v| v.trim_matches('`'));
    if let Some(text) = found.strip_prefix("string ") {
        return format!("the text {text}");
    }
    if let Some(number) = value("integer ").or_else(|| value("floating point ")) {
        return format!("the number {number}");
    }
    if let Some(boolean) = value("boolean ") {
        return boolean.into();
    }
    match found {
        "map" => "a mapping".into(),
        "sequence" => "a list".into(),
        "unit value" => "an empty value".into(),
        other => other.into(),
    }
}

fn expected_as(expected: &str) -> String {
    let rust_word = expected
        .strip_prefix("struct ")
        .or_else(|| expected.strip_prefix("a map"));
    if rust_word.is_some() || expected.starts_with("struct variant") {
        return "a mapping of settings (`key: value`)".into();
    }
    if expected.starts_with("enum ") {
        return "one of the allowed words".into();
    }
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number, 0 or more".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a sequence" => "a list".into(),
        "a borrowed string" => "a string".into(),
        other => other.into(),
    }
}

fn derive_hint(message: &str) -> String {
    const REFERENCE: &str =
        "see the policy reference (docs/policy.md), or `ecr-steward policy show-default`";
    if let Some(rest) = message.split_once("unknown field `").map(|(_, rest)| rest) {
        return suggest(rest, "keys").unwrap_or_else(|| REFERENCE.into());
    }
    if let Some(rest) = message
        .split_once("unknown variant `")
        .map(|(_, rest)| rest)
    {
        return suggest(rest, "values").unwrap_or_else(|| REFERENCE.into());
    }
    if let Some((_, rest)) = message.split_once("missing field `") {
        let field = rest.split('`').next().unwrap_or_default();
        return format!("add `{field}`; {REFERENCE}");
    }
    if message.contains("expected struct") || message.contains("expected a map") {
        return "write the settings as `key: value` lines indented under the key, or `{ key: value }`; an empty `{}` takes the defaults".into();
    }
    if message.contains("string \"1\", expected the number 1") {
        return "write `version: 1`, without quotes".into();
    }
    if message.contains("expected a boolean") {
        return "write true or false (unquoted)".into();
    }
    if ["u8", "u16", "u32", "u64", "usize"]
        .iter()
        .any(|rust| message.ends_with(&format!("expected {rust}")))
    {
        return "write a whole number (unquoted)".into();
    }
    if message.contains("expected a sequence") {
        return "write a list, e.g. [\"a\", \"b\"] or one `- item` per line".into();
    }
    REFERENCE.into()
}

/// From "`name`, expected one of `a`, `b`": the nearest allowed word, or the list.
fn suggest(rest: &str, what: &str) -> Option<String> {
    let (given, rest) = rest.split_once('`')?;
    let allowed: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    if allowed.is_empty() {
        return None;
    }
    let nearest = allowed
        .iter()
        .map(|candidate| (edit_distance(given, candidate), *candidate))
        .min()
        .filter(|(distance, _)| *distance <= 2.max(given.len() / 3));
    Some(match nearest {
        Some((_, candidate)) => format!(
            "did you mean `{candidate}`? allowed {what} here: {}",
            allowed.join(", ")
        ),
        None => format!("allowed {what} here: {}", allowed.join(", ")),
    })
}

pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}
