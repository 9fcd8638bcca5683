//! A rule's `retention` section: which images `ecr-steward prune` and the retention function
//! keep, and which expire. Every value is checked while it is read, so an error carries its
//! position in the file. An image whose tags no clause speaks of is kept: nothing expires
//! unless the policy says so explicitly.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

/// The retention section of a rule.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// SemVer releases and pre-releases; `None`: every SemVer tag is kept.
    #[serde(default)]
    pub semver: Option<SemverRetention>,
    /// Upstream-plus-revision tags; `None`: every such tag is kept.
    #[serde(default)]
    pub upstream: Option<UpstreamRetention>,
    /// Commit-id tags; `None`: every git-sha tag is kept.
    #[serde(default)]
    pub git_sha: Option<GitShaRetention>,
    /// Images without tags (that no kept index or image references); `None`: kept.
    #[serde(default)]
    pub untagged: Option<UntaggedRetention>,
    /// Tags (literals and globs with `*` and `?`) whose images are never expired.
    #[serde(default)]
    pub protect: Vec<TagGlob>,
    /// Keep every image pulled within this many days (ECR's `lastRecordedPullTime`).
    #[serde(default)]
    pub keep_pulled_within_days: Option<Days>,
    /// Where to learn which images run; every image a source reports is kept.
    #[serde(default)]
    pub in_use: InUseSources,
    /// Images enforce mode quarantined (a `quarantine-*` tag); `None`: kept.
    #[serde(default)]
    pub quarantine: Option<QuarantineRetention>,
    /// Expire by archiving first (ECR's archive storage class: reversible, not pullable);
    /// `None`: expired images are deleted.
    #[serde(default)]
    pub archive: Option<ArchiveRetention>,
}

/// How the archive tier is used: what the clauses expire is archived, and deleted only once
/// it has been archived for `delete_after_days`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveRetention {
    /// Delete an archived image the clauses still expire once it has been archived this many
    /// days (at least 90, ECR's minimum billed); `None`: archived images stay archived.
    #[serde(default)]
    pub delete_after_days: Option<ArchiveDays>,
}

/// Days in the archive before deletion: 90 (ECR bills an archived image for at least 90
/// days) to 36,500.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveDays(pub u32);

impl<'de> Deserialize<'de> for ArchiveDays {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match u32::deserialize(deserializer)? {
            n if n < 90 => Err(D::Error::custom(format!(
                "{n} days: ECR bills an archived image for at least 90 days, and restoring one takes up to 20 minutes; hint: give 90 or more, or leave out `archive` to delete expired images at once"
            ))),
            n if n > 36_500 => Err(D::Error::custom(format!(
                "{n} days is more than a century; hint: leave out delete_after_days to keep archived images"
            ))),
            n => Ok(Self(n)),
        }
    }
}

/// The sources of "this image runs": each one read keeps what it reports. Lambda and ECS are
/// read by default (their APIs are free); Inspector only where enhanced scanning is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InUseSources {
    /// Lambda functions of package type Image: the digest each version runs.
    #[serde(default = "yes")]
    pub lambda: bool,
    /// ECS: the images of services' task definitions and of running tasks.
    #[serde(default = "yes")]
    pub ecs: bool,
    /// Amazon Inspector's in-use count of ECR images (ECS tasks and EKS pods).
    #[serde(default)]
    pub inspector: bool,
}

fn yes() -> bool {
    true
}

impl Default for InUseSources {
    fn default() -> Self {
        Self {
            lambda: true,
            ecs: true,
            inspector: false,
        }
    }
}

/// When quarantined images (a tag starting `quarantine-`) expire.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuarantineRetention {
    /// Expire quarantined images pushed more than this many days ago.
    pub max_age_days: Days,
}

/// How SemVer tags are kept.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SemverRetention {
    /// Keep the newest N releases of every major version (SemVer precedence).
    #[serde(default)]
    pub keep_per_major: Option<Count>,
    /// Keep the newest N releases of every major.minor line.
    #[serde(default)]
    pub keep_per_minor: Option<Count>,
    /// When pre-releases expire; `None`: they are kept.
    #[serde(default)]
    pub prerelease: Option<PrereleaseRetention>,
}

/// When pre-release tags (`1.2.3-rc.1`) expire.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrereleaseRetention {
    /// Expire pre-releases pushed more than this many days ago.
    #[serde(default)]
    pub max_age_days: Option<Days>,
    /// Expire a pre-release once its release (`1.2.3` for `1.2.3-rc.1`) is in the repository.
    #[serde(default)]
    pub until_released: bool,
}

/// How upstream-plus-revision tags (`8.0.12-c15`) are kept.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamRetention {
    /// Keep the newest N revisions of every upstream version (`8.0.12-c15`, `-c14`, …).
    #[serde(default)]
    pub keep_revisions: Option<Count>,
    /// Keep the newest N upstream versions of every line (the version without its last part:
    /// `8.0` for `8.0.12`); older versions expire with all their revisions.
    #[serde(default)]
    pub keep_versions: Option<Count>,
}

/// How commit-id tags are kept: the newest K images, and/or those younger than D days.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitShaRetention {
    /// Keep the K most recently pushed images with a git-sha tag.
    #[serde(default)]
    pub keep_newest: Option<Count>,
    /// Keep git-sha images pushed within this many days.
    #[serde(default)]
    pub max_age_days: Option<Days>,
}

/// When untagged images expire.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UntaggedRetention {
    /// Expire untagged images pushed more than this many days ago.
    pub max_age_days: Days,
}

/// A number of images to keep: at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count(pub u32);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match u32::deserialize(deserializer)? {
            0 => Err(D::Error::custom(
                "a count of 0 would expire every image of its kind; hint: keep at least 1, or leave the clause out to keep them all",
            )),
            n => Ok(Self(n)),
        }
    }
}

/// A number of days: 1 to 36,500.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Days(pub u32);

impl<'de> Deserialize<'de> for Days {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match u32::deserialize(deserializer)? {
            0 => Err(D::Error::custom(
                "0 days would expire images the moment they are pushed; hint: give at least 1 day",
            )),
            n if n > 36_500 => Err(D::Error::custom(format!(
                "{n} days is more than a century; hint: leave the clause out to keep images forever"
            ))),
            n => Ok(Self(n)),
        }
    }
}

/// A protected tag: a literal, or a glob where `*` matches any run of characters and `?` one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagGlob(String);

impl TagGlob {
    /// Checks `text`: tag characters, plus `*` and `?`.
    pub fn new(text: &str) -> Result<Self, String> {
        let literal: String = text.chars().filter(|c| !matches!(c, '*' | '?')).collect();
        let valid_chars = literal
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if text.is_empty() || !valid_chars || text.len() > crate::tag::MAX_TAG_LENGTH {
            return Err(format!(
                "{text:?} cannot match a tag; hint: protect tags with letters, digits, '_', '.' and '-', and '*' or '?' as wildcards"
            ));
        }
        Ok(Self(text.into()))
    }

    /// The glob as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when the whole tag matches.
    pub fn matches(&self, tag: &str) -> bool {
        wildcard(self.0.as_bytes(), tag.as_bytes())
    }
}

fn wildcard(pattern: &[u8], text: &[u8]) -> bool {
    // Iterative matching with one backtrack point for the last `*`: linear in practice.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(b'?') => {
                p += 1;
                t += 1;
            }
            Some(c) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == b'*')
}

impl<'de> Deserialize<'de> for TagGlob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        TagGlob::new(&text).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protect_globs() {
        let glob = TagGlob::new("release-*").expect("valid");
        assert!(glob.matches("release-2026"));
        assert!(glob.matches("release-"));
        assert!(!glob.matches("prerelease-1"));
        let glob = TagGlob::new("v?.*.x").expect("valid");
        assert!(glob.matches("v1.2.x") && glob.matches("v1.2.3.x"));
        assert!(!glob.matches("v10.2.x"));
        assert!(TagGlob::new("stable").expect("valid").matches("stable"));
        assert!(!TagGlob::new("stable").expect("valid").matches("stable2"));
        for bad in ["", "a/b", "a b", "é"] {
            assert!(TagGlob::new(bad).is_err(), "{bad}");
        }
    }
}
