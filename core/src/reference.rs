//! Image references as CI tools print them: `[registry/]repository[:tag]`.

/// The parts of an image reference, borrowed from the text that was parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference<'a> {
    /// The registry host (with its port, if any); `None` when the reference names none.
    pub registry: Option<&'a str>,
    /// The repository name; `None` for a bare tag.
    pub repository: Option<&'a str>,
    /// The tag.
    pub tag: &'a str,
}

/// Why a reference cannot be used where a tag is needed; each carries the text given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// The reference names a digest (`repo@sha256:…`), not a tag.
    #[error("{0:?} names an image by digest; a tag is needed here")]
    Digest(String),
    /// The reference has a repository path but no `:tag`.
    #[error("{0:?} names a repository but no tag")]
    NoTag(String),
}

/// Parses a bare tag (`1.2.3`) or a full reference
/// (`123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:1.2.3`).
pub fn parse(text: &str) -> Result<Reference<'_>, ReferenceError> {
    if text.contains('@') {
        return Err(ReferenceError::Digest(text.into()));
    }
    let Some(slash) = text.rfind('/') else {
        return Ok(match text.split_once(':') {
            // `app:1.2.3`: a repository without a registry.
            Some((repository, tag)) => Reference {
                registry: None,
                repository: Some(repository),
                tag,
            },
            None => Reference {
                registry: None,
                repository: None,
                tag: text,
            },
        });
    };
    let (name, tag) = match text[slash..].rfind(':') {
        Some(colon) => (&text[..slash + colon], &text[slash + colon + 1..]),
        None => return Err(ReferenceError::NoTag(text.into())),
    };
    let (registry, repository) = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            (Some(first), rest)
        }
        _ => (None, name),
    };
    Ok(Reference {
        registry,
        repository: Some(repository),
        tag,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_tags_and_references() {
        assert_eq!(
            parse("1.2.3"),
            Ok(Reference {
                registry: None,
                repository: None,
                tag: "1.2.3"
            })
        );
        assert_eq!(
            parse("123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:1.2.3"),
            Ok(Reference {
                registry: Some("123456789012.dkr.ecr.us-east-1.amazonaws.com"),
                repository: Some("team/app"),
                tag: "1.2.3"
            })
        );
        assert_eq!(
            parse("localhost:5000/app:sha-abc1234"),
            Ok(Reference {
                registry: Some("localhost:5000"),
                repository: Some("app"),
                tag: "sha-abc1234"
            })
        );
        assert_eq!(
            parse("org/app:edge").map(|r| (r.registry, r.repository)),
            Ok((None, Some("org/app")))
        );
        assert_eq!(parse("app:edge").map(|r| r.repository), Ok(Some("app")));
    }

    #[test]
    fn digests_and_missing_tags_are_errors() {
        assert!(matches!(
            parse("ghcr.io/org/app@sha256:abc"),
            Err(ReferenceError::Digest(_))
        ));
        assert!(matches!(
            parse("ghcr.io/org/app"),
            Err(ReferenceError::NoTag(_))
        ));
    }
}
