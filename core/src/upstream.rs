//! Upstream version plus packaging revision, the third tagging strategy of the ECR guides:
//! `8.0.12-c15` is MySQL 8.0.12 in configuration revision 15. The upstream part is any dotted
//! numeric version (`8.0.12`, `1.25`, `2023.1`); the revision is what the rule's pattern
//! admits (`c[0-9]+`). They order by the upstream version, part by part as numbers, then by the
//! revision's number, never as SemVer pre-releases.

use std::cmp::Ordering;

/// A tag read as upstream version and revision, borrowed from the tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamTag<'a> {
    /// The upstream version, such as `8.0.12`.
    pub version: &'a str,
    /// The packaging revision, such as `c15`.
    pub revision: &'a str,
}

/// Reads `<dotted numeric version>-<revision>`, where `is_revision` admits the revision.
pub fn parse<'a>(tag: &'a str, is_revision: impl Fn(&str) -> bool) -> Option<UpstreamTag<'a>> {
    let (version, revision) = tag.split_once('-')?;
    if !is_dotted_numeric(version) || revision.is_empty() || !is_revision(revision) {
        return None;
    }
    Some(UpstreamTag { version, revision })
}

/// `8`, `8.0.12`, `2023.1`: runs of digits joined by single dots.
pub fn is_dotted_numeric(text: &str) -> bool {
    !text.is_empty()
        && text
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

impl<'a> UpstreamTag<'a> {
    /// The line the version belongs to: every part but the last (`8.0` for `8.0.12`, `2023`
    /// for `2023.1`, empty for `15`).
    pub fn line(&self) -> &'a str {
        self.version.rsplit_once('.').map_or("", |(line, _)| line)
    }

    /// The revision's number: its last run of digits (`15` in `c15`); `None` without digits.
    pub fn revision_number(&self) -> Option<&'a str> {
        let end = self.revision.rfind(|c: char| c.is_ascii_digit())? + 1;
        let start = self.revision[..end]
            .rfind(|c: char| !c.is_ascii_digit())
            .map_or(0, |i| i + 1);
        Some(&self.revision[start..end])
    }
}

/// Compares two runs of digits as numbers, of any length.
pub fn compare_numbers(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Compares dotted numeric versions part by part as numbers; a missing part is less (`1.25`
/// before `1.25.0`).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => match compare_numbers(x, y) {
                Ordering::Equal => {}
                other => return other,
            },
        }
    }
}

impl Ord for UpstreamTag<'_> {
    /// Upstream version, then revision number (a revision without digits first), then the
    /// revision's text.
    fn cmp(&self, other: &Self) -> Ordering {
        compare_versions(self.version, other.version)
            .then_with(|| match (self.revision_number(), other.revision_number()) {
                (Some(a), Some(b)) => compare_numbers(a, b),
                (a, b) => a.is_some().cmp(&b.is_some()),
            })
            .then_with(|| self.revision.cmp(other.revision))
    }
}

impl PartialOrd for UpstreamTag<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revision(text: &str) -> bool {
        text.starts_with('c') && text.len() > 1 && text[1..].bytes().all(|b| b.is_ascii_digit())
    }

    fn tag(text: &str) -> UpstreamTag<'_> {
        parse(text, revision).expect("an upstream tag")
    }

    #[test]
    fn reads_upstream_and_revision() {
        assert_eq!(
            tag("8.0.12-c15"),
            UpstreamTag {
                version: "8.0.12",
                revision: "c15"
            }
        );
        assert_eq!(tag("2023.1-c1").line(), "2023");
        assert_eq!(tag("8.0.12-c15").line(), "8.0");
        assert_eq!(tag("15-c3").line(), "");
        assert_eq!(tag("1.25-c007").revision_number(), Some("007"));
        for bad in [
            "8.0.12", "8.0.12-", "8..0-c1", "v8.0-c1", "8.0-rc1", "-c1", "a.1-c1",
        ] {
            assert!(parse(bad, revision).is_none(), "{bad}");
        }
    }

    #[test]
    fn orders_by_upstream_then_revision_number() {
        let mut tags = vec![
            "8.0.12-c15",
            "8.0.9-c3",
            "8.0.12-c2",
            "8.0.12-c100",
            "10.0.1-c1",
            "8.0-c9",
        ];
        tags.sort_by(|a, b| tag(a).cmp(&tag(b)));
        assert_eq!(
            tags,
            [
                "8.0-c9",
                "8.0.9-c3",
                "8.0.12-c2",
                "8.0.12-c15",
                "8.0.12-c100",
                "10.0.1-c1"
            ]
        );
        assert_eq!(compare_numbers("0010", "9"), Ordering::Greater);
    }
}
