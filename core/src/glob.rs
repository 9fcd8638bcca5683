//! Repository-name globs: `*` matches within one path segment, `**` across segments,
//! `?` one character other than `/`. Everything else matches itself.

use std::fmt;

/// A repository-name glob, checked to use only characters a repository name can have.
#[derive(Clone, PartialEq, Eq)]
pub struct Glob {
    text: String,
}

/// Why text is not a repository glob.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobError {
    /// The text is empty.
    #[error("a repository glob cannot be empty")]
    Empty,
    /// The text has a character no repository name can have.
    #[error("repository glob {glob:?} has {character:?}; hint: repository names use lowercase letters, digits, '.', '_', '-' and '/' (globs add '*', '**' and '?')")]
    Character {
        /// The glob as written.
        glob: String,
        /// The first character that cannot be.
        character: char,
    },
}

impl Glob {
    /// Builds a glob; fails on text that could never match a repository name.
    pub fn new(text: &str) -> Result<Self, GlobError> {
        if text.is_empty() {
            return Err(GlobError::Empty);
        }
        if let Some(bad) = text.chars().find(|c| {
            !(c.is_ascii_lowercase()
                || c.is_ascii_digit()
                || matches!(c, '.' | '_' | '-' | '/' | '*' | '?'))
        }) {
            return Err(GlobError::Character {
                glob: text.into(),
                character: bad,
            });
        }
        Ok(Self { text: text.into() })
    }

    /// The glob as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when the whole repository name matches the glob.
    pub fn matches(&self, name: &str) -> bool {
        matches_from(self.text.as_bytes(), name.as_bytes())
    }

    /// True for `**`, the glob that matches every repository.
    pub fn matches_everything(&self) -> bool {
        self.text == "**"
    }
}

fn matches_from(pattern: &[u8], name: &[u8]) -> bool {
    match pattern {
        [] => name.is_empty(),
        [b'*', b'*', rest @ ..] => {
            // `a/**/b` also matches `a/b`.
            let rest_after_slash = rest.strip_prefix(b"/").unwrap_or(rest);
            (0..=name.len()).any(|skip| {
                matches_from(rest, &name[skip..]) || matches_from(rest_after_slash, &name[skip..])
            })
        }
        [b'*', rest @ ..] => {
            let segment_end = name.iter().position(|&b| b == b'/').unwrap_or(name.len());
            (0..=segment_end).any(|skip| matches_from(rest, &name[skip..]))
        }
        [b'?', rest @ ..] => {
            matches!(name, [first, tail @ ..] if *first != b'/' && matches_from(rest, tail))
        }
        [literal, rest @ ..] => {
            matches!(name, [first, tail @ ..] if first == literal && matches_from(rest, tail))
        }
    }
}

impl fmt::Debug for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Glob({:?})", self.text)
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for Glob {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Glob::new(&text).map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for Glob {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(text: &str) -> Glob {
        Glob::new(text).expect("valid glob")
    }

    #[test]
    fn star_stays_within_a_segment() {
        assert!(glob("team/*").matches("team/app"));
        assert!(!glob("team/*").matches("team/app/worker"));
        assert!(!glob("team/*").matches("other/app"));
        assert!(glob("*").matches("app"));
        assert!(!glob("*").matches("team/app"));
        assert!(glob("team-*/app").matches("team-a/app"));
    }

    #[test]
    fn double_star_crosses_segments() {
        assert!(glob("**").matches("team/app/worker"));
        assert!(glob("team/**").matches("team/app/worker"));
        assert!(glob("**/worker").matches("team/app/worker"));
        assert!(glob("**/worker").matches("worker"));
        assert!(glob("team/**/worker").matches("team/worker"));
        assert!(glob("team/**/worker").matches("team/a/b/worker"));
        assert!(!glob("team/**").matches("teams/app"));
    }

    #[test]
    fn question_mark_and_literals() {
        assert!(glob("app-?").matches("app-1"));
        assert!(!glob("app-?").matches("app-12"));
        assert!(!glob("a?b").matches("a/b"));
        assert!(glob("exact/name").matches("exact/name"));
        assert!(!glob("exact/name").matches("exact/names"));
    }

    #[test]
    fn rejects_what_cannot_match() {
        assert!(Glob::new("").is_err());
        let message = Glob::new("Team/*").expect_err("uppercase").to_string();
        assert!(message.contains("'T'"), "{message}");
        assert!(Glob::new("team/[ab]").is_err());
    }
}
