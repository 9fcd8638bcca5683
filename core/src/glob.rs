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

impl Glob {
    /// True when some repository name ECR accepts matches the glob: 2 to 256 characters,
    /// lowercase path segments of letters and digits joined by single `.`, `_` or `-`.
    /// Each wildcard is tried as letters, which only ever helps a name be valid.
    pub fn can_match_a_repository_name(&self) -> bool {
        let example = self
            .text
            .replace("**", "aa")
            .replace('*', "aa")
            .replace('?', "a");
        is_repository_name(&example)
    }

    /// True when every name this glob matches is matched by `earlier` too, as far as a
    /// comparison of the two patterns shows (it may miss a cover, never invent one).
    pub fn is_covered_by(&self, earlier: &Glob) -> bool {
        let mut shape = Vec::with_capacity(self.text.len());
        let mut rest = self.text.as_bytes();
        while let Some((&first, tail)) = rest.split_first() {
            match (first, tail.first()) {
                (b'*', Some(b'*')) => {
                    shape.push(ANY);
                    rest = &tail[1..];
                    continue;
                }
                (b'*', _) => shape.push(SEGMENT),
                (b'?', _) => shape.push(ONE),
                (literal, _) => shape.push(literal),
            }
            rest = tail;
        }
        covers(earlier.text.as_bytes(), &shape)
    }
}

/// Stand-ins for the wildcards of the glob being covered: what `**`, `*` and `?` may stand for.
const ANY: u8 = 0x01;
const SEGMENT: u8 = 0x02;
const ONE: u8 = 0x03;

/// Whether `pattern` matches every expansion of `shape` (a glob with its wildcards replaced).
fn covers(pattern: &[u8], shape: &[u8]) -> bool {
    match pattern {
        [] => shape.is_empty(),
        [b'*', b'*', rest @ ..] => {
            let after_slash = rest.strip_prefix(b"/");
            (0..=shape.len()).any(|skip| {
                covers(rest, &shape[skip..])
                    || after_slash.is_some_and(|after| {
                        (skip == 0 || shape[skip - 1] == b'/') && covers(after, &shape[skip..])
                    })
            })
        }
        [b'*', rest @ ..] => {
            let segment_end = shape
                .iter()
                .position(|&b| b == b'/' || b == ANY)
                .unwrap_or(shape.len());
            (0..=segment_end).any(|skip| covers(rest, &shape[skip..]))
        }
        [b'?', rest @ ..] => {
            matches!(shape, [first, tail @ ..] if *first != b'/' && *first != ANY && *first != SEGMENT && covers(rest, tail))
        }
        [literal, rest @ ..] => {
            matches!(shape, [first, tail @ ..] if first == literal && covers(rest, tail))
        }
    }
}

/// ECR's rule for a repository name (the `repositoryName` pattern of its API, 2 to 256 long).
pub fn is_repository_name(name: &str) -> bool {
    (2..=256).contains(&name.len())
        && name.split('/').all(|segment| {
            let bytes = segment.as_bytes();
            let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
            bytes.first().is_some_and(alnum)
                && bytes.last().is_some_and(alnum)
                && bytes
                    .iter()
                    .all(|b| alnum(b) || matches!(b, b'.' | b'_' | b'-'))
                && !bytes
                    .windows(2)
                    .any(|pair| !alnum(&pair[0]) && !alnum(&pair[1]))
        })
}

pub(crate) fn matches_from(pattern: &[u8], name: &[u8]) -> bool {
    match pattern {
        [] => name.is_empty(),
        [b'*', b'*', rest @ ..] => {
            // `**/` stands for whole segments, none among them: `a/**/b` matches `a/b` and
            // `a/x/y/b`, never `a/xb`.
            let after_slash = rest.strip_prefix(b"/");
            (0..=name.len()).any(|skip| {
                matches_from(rest, &name[skip..])
                    || after_slash.is_some_and(|after| {
                        (skip == 0 || name[skip - 1] == b'/') && matches_from(after, &name[skip..])
                    })
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
    fn names_ecr_could_never_have_match_nothing() {
        for glob_text in [
            "team-a/*",
            "**",
            "*",
            "a?",
            "team/**/api",
            "**/worker",
            "x*",
        ] {
            assert!(glob(glob_text).can_match_a_repository_name(), "{glob_text}");
        }
        for glob_text in [
            "team-a/", "/team", "team//a", "team-/x", "a..b", "-api", "?", "a",
        ] {
            assert!(
                !glob(glob_text).can_match_a_repository_name(),
                "{glob_text}"
            );
        }
    }

    #[test]
    fn covers_compares_patterns_not_examples() {
        let covered = |later: &str, earlier: &str| glob(later).is_covered_by(&glob(earlier));
        assert!(covered("team-a/api", "team-a/*"));
        assert!(covered("team-a/*", "**"));
        assert!(covered("team-a/*", "team-*/*"));
        assert!(covered("team-a/**", "team-a/**"));
        assert!(covered("team-a/*", "team-a/**"));
        assert!(covered("a?", "a*"));
        assert!(
            !covered("team-a/**", "team-a/*"),
            "** crosses segments, * does not"
        );
        assert!(!covered("team-b/*", "team-a/*"));
        assert!(!covered("a*", "a?"), "* may be longer than one character");
        assert!(!covered("**", "*"));
        assert!(!covered("team/*", "*"));
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
        assert!(
            !glob("**/worker").matches("fooworker"),
            "whole segments only"
        );
        assert!(!glob("team/**/worker").matches("team/aworker"));
        assert!(!glob("a/**/b").matches("a/xb"));
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
