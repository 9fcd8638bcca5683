//! SemVer 2.0.0 (<https://semver.org/spec/v2.0.0.html>), parsed without allocating.

/// A version as it appears in a tag, borrowed from the tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version<'a> {
    /// The major version's digits.
    pub major: &'a str,
    /// The minor version's digits.
    pub minor: &'a str,
    /// The patch version's digits.
    pub patch: &'a str,
    /// What follows `-`, such as `rc.1`; `None` for a release.
    pub pre_release: Option<&'a str>,
    /// Build metadata, what follows `+`; `None` when absent.
    pub build: Option<&'a str>,
}

/// The floating aliases `MAJOR` and `MAJOR.MINOR` that CI tools push beside a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alias<'a> {
    /// The major version's digits.
    pub major: &'a str,
    /// The minor version's digits; `None` for a `MAJOR` alias.
    pub minor: Option<&'a str>,
}

impl Version<'_> {
    /// True for `0.y.z`, the initial-development range.
    pub fn is_major_zero(&self) -> bool {
        self.major == "0"
    }
}

impl Alias<'_> {
    /// True for `0` and `0.y`.
    pub fn is_major_zero(&self) -> bool {
        self.major == "0"
    }
}

/// Parses a full `MAJOR.MINOR.PATCH[-PRE][+BUILD]` version.
pub fn parse(text: &str) -> Option<Version<'_>> {
    let (rest, build) = match text.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (text, None),
    };
    let (core, pre_release) = match rest.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (rest, None),
    };
    let mut parts = core.split('.');
    let major = parts.next().filter(|p| is_numeric_identifier(p))?;
    let minor = parts.next().filter(|p| is_numeric_identifier(p))?;
    let patch = parts.next().filter(|p| is_numeric_identifier(p))?;
    if parts.next().is_some() {
        return None;
    }
    if let Some(pre) = pre_release {
        if !pre.split('.').all(is_pre_release_identifier) {
            return None;
        }
    }
    if let Some(build) = build {
        if !build.split('.').all(is_build_identifier) {
            return None;
        }
    }
    Some(Version {
        major,
        minor,
        patch,
        pre_release,
        build,
    })
}

/// Parses a floating alias: `MAJOR` or `MAJOR.MINOR`.
pub fn parse_alias(text: &str) -> Option<Alias<'_>> {
    let (major, minor) = match text.split_once('.') {
        Some((major, minor)) => (major, Some(minor)),
        None => (text, None),
    };
    if !is_numeric_identifier(major) || !minor.is_none_or(is_numeric_identifier) {
        return None;
    }
    Some(Alias { major, minor })
}

/// `0` or a run of digits without a leading zero.
fn is_numeric_identifier(part: &str) -> bool {
    let bytes = part.as_bytes();
    match bytes {
        [] => false,
        [b'0'] => true,
        [b'0', ..] => false,
        _ => bytes.iter().all(u8::is_ascii_digit),
    }
}

fn is_alphanumeric_identifier_char(byte: &u8) -> bool {
    byte.is_ascii_alphanumeric() || *byte == b'-'
}

fn is_pre_release_identifier(part: &str) -> bool {
    let bytes = part.as_bytes();
    if bytes.is_empty() || !bytes.iter().all(is_alphanumeric_identifier_char) {
        return false;
    }
    // A purely numeric pre-release identifier must not have leading zeros.
    !bytes.iter().all(u8::is_ascii_digit) || is_numeric_identifier(part)
}

fn is_build_identifier(part: &str) -> bool {
    !part.is_empty() && part.bytes().all(|b| is_alphanumeric_identifier_char(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_examples_of_the_specification() {
        for text in [
            "0.0.4",
            "1.2.3",
            "10.20.30",
            "1.1.2-prerelease+meta",
            "1.1.2+meta",
            "1.1.2+meta-valid",
            "1.0.0-alpha",
            "1.0.0-beta",
            "1.0.0-alpha.beta",
            "1.0.0-alpha.beta.1",
            "1.0.0-alpha.1",
            "1.0.0-alpha0.valid",
            "1.0.0-alpha.0valid",
            "1.0.0-alpha-a.b-c-somethinglong+build.1-aef.1-its-okay",
            "1.0.0-rc.1+build.1",
            "2.0.0-rc.1+build.123",
            "1.2.3-beta",
            "10.2.3-DEV-SNAPSHOT",
            "1.2.3-SNAPSHOT-123",
            "2.0.0+build.1848",
            "2.0.1-alpha.1227",
            "1.0.0-alpha+beta",
            "1.2.3----RC-SNAPSHOT.12.9.1--.12+788",
            "1.2.3----R-S.12.9.1--.12+meta",
            "1.2.3----RC-SNAPSHOT.12.9.1--.12",
            "1.0.0+0.build.1-rc.10000aaa-kk-0.1",
            "1.0.0-0A.is.legal",
        ] {
            assert!(parse(text).is_some(), "{text} should parse");
        }
    }

    #[test]
    fn rejects_the_counter_examples_of_the_specification() {
        for text in [
            "1",
            "1.2",
            "1.2.3-0123",
            "1.2.3-0123.0123",
            "1.1.2+.123",
            "+invalid",
            "-invalid",
            "-invalid+invalid",
            "-invalid.01",
            "alpha",
            "alpha.beta",
            "alpha.beta.1",
            "alpha.1",
            "alpha+beta",
            "alpha_beta",
            "alpha.",
            "alpha..",
            "beta",
            "1.0.0-alpha_beta",
            "-alpha.",
            "1.0.0-alpha..",
            "1.0.0-alpha..1",
            "1.0.0-alpha...1",
            "01.1.1",
            "1.01.1",
            "1.1.01",
            "1.2.3.DEV",
            "1.2-SNAPSHOT",
            "1.2.31.2.3----RC-SNAPSHOT.12.09.1--..12+788",
            "1.2-RC-SNAPSHOT",
            "-1.0.3-gamma+b7718",
            "+justmeta",
            "9.8.7+meta+meta",
            "9.8.7-whatever+meta+meta",
            "1.2.3-",
            "1.2.3+",
            "",
        ] {
            assert!(parse(text).is_none(), "{text:?} should not parse");
        }
    }

    #[test]
    fn splits_the_parts() {
        let version = parse("1.20.3-rc.1+build.5").expect("valid");
        assert_eq!(
            version,
            Version {
                major: "1",
                minor: "20",
                patch: "3",
                pre_release: Some("rc.1"),
                build: Some("build.5"),
            }
        );
    }

    #[test]
    fn aliases() {
        assert_eq!(
            parse_alias("1"),
            Some(Alias {
                major: "1",
                minor: None
            })
        );
        assert_eq!(
            parse_alias("1.2"),
            Some(Alias {
                major: "1",
                minor: Some("2")
            })
        );
        for text in ["", "01", "1.02", "1.2.3", "1.", ".1", "a"] {
            assert!(parse_alias(text).is_none(), "{text:?}");
        }
    }
}
