//! Which images of a repository run, from the references workloads name
//! (`<registry>/<repository>:<tag>`, `…@sha256:<hex>`, or both).

use super::{ImageRecord, Usage};

/// An image a workload runs, as it names it, and what runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningImage {
    /// The reference: `123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:1.2.3`, with or
    /// without a tag, with or without `@sha256:…`.
    pub reference: String,
    /// The digest it runs, where the source resolved it (a running task's `imageDigest`).
    pub digest: Option<String>,
    /// What runs it.
    pub usage: Usage,
}

/// The parts of a reference retention matches on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named<'a> {
    /// The repository path, without its registry.
    pub repository: &'a str,
    /// The tag, when it names one.
    pub tag: Option<&'a str>,
    /// The digest, when it names one.
    pub digest: Option<&'a str>,
}

/// Splits a reference into repository, tag and digest. The registry is not compared: an
/// image of another registry with the same repository path is taken as this one's, which
/// keeps more, never less.
pub fn parse_reference(reference: &str) -> Option<Named<'_>> {
    let (name, digest) = match reference.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (reference, None),
    };
    let path = match name.split_once('/') {
        Some((host, rest)) if host.contains(['.', ':']) || host == "localhost" => rest,
        _ => name,
    };
    let (repository, tag) = match path.rfind(':') {
        Some(colon) if !path[colon..].contains('/') => (&path[..colon], Some(&path[colon + 1..])),
        _ => (path, None),
    };
    (!repository.is_empty()).then_some(Named {
        repository,
        tag: tag.filter(|t| !t.is_empty()),
        digest: digest.filter(|d| d.starts_with("sha256:")),
    })
}

/// Marks each image of `repository` that `running` names (by digest, or by a tag it carries
/// now) as in use, with what runs it.
pub fn attach_usage(images: &mut [ImageRecord], repository: &str, running: &[RunningImage]) {
    for run in running {
        let Some(named) = parse_reference(&run.reference) else {
            continue;
        };
        if named.repository != repository {
            continue;
        }
        // The digest the source resolved and the one the reference pins: both are kept.
        let digests = [run.digest.as_deref(), named.digest];
        for image in images.iter_mut() {
            let by_digest = digests.contains(&Some(image.digest.as_str()));
            let by_tag = named
                .tag
                .is_some_and(|tag| image.tags.iter().any(|t| t == tag));
            if (by_digest || by_tag) && !image.in_use.contains(&run.usage) {
                image.in_use.push(run.usage.clone());
            }
        }
    }
    for image in images.iter_mut() {
        image.in_use.sort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retention::{ImageStatus, UsageSource};
    use crate::timestamp::Timestamp;

    #[test]
    fn references_as_workloads_write_them() {
        let parts = |r| parse_reference(r).map(|n| (n.repository, n.tag, n.digest));
        let d = "sha256:0123";
        assert_eq!(
            parts("123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:1.2.3"),
            Some(("team/app", Some("1.2.3"), None))
        );
        assert_eq!(
            parts("123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app@sha256:0123"),
            Some(("team/app", None, Some(d)))
        );
        assert_eq!(
            parts("localhost:5000/app:v1@sha256:0123"),
            Some(("app", Some("v1"), Some(d)))
        );
        assert_eq!(parts("team/app"), Some(("team/app", None, None)));
        assert_eq!(parts("nginx:1.27"), Some(("nginx", Some("1.27"), None)));
        assert_eq!(parts(""), None);
    }

    #[test]
    fn an_image_is_in_use_by_digest_or_by_a_tag_it_carries_now() {
        let record = |digest: &str, tags: &[&str]| ImageRecord {
            digest: digest.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            pushed_at: Timestamp(0),
            last_pulled: None,
            media_type: None,
            size_bytes: None,
            children: vec![],
            subject: None,
            in_use: vec![],
            status: ImageStatus::Active,
            archived_at: None,
        };
        let mut images = vec![
            record("sha256:aa", &["1.0.0"]),
            record("sha256:bb", &["2.0.0", "latest"]),
            record("sha256:cc", &[]),
        ];
        let usage = |what: &str| Usage {
            source: UsageSource::Ecs,
            what: what.into(),
            last_seen: None,
        };
        let host = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
        let running = [
            RunningImage {
                reference: format!("{host}/team/app:latest"),
                digest: None,
                usage: usage("service web"),
            },
            RunningImage {
                reference: format!("{host}/team/app:1.0.0"),
                digest: Some("sha256:cc".into()),
                usage: usage("task 1"),
            },
            RunningImage {
                reference: format!("{host}/team/other:1.0.0"),
                digest: None,
                usage: usage("elsewhere"),
            },
        ];
        attach_usage(&mut images, "team/app", &running);
        let whats =
            |i: usize| -> Vec<&str> { images[i].in_use.iter().map(|u| u.what.as_str()).collect() };
        // A task keeps the digest it runs and the image its tag names now (what a restart
        // would pull).
        assert_eq!(whats(0), ["task 1"]);
        assert_eq!(whats(1), ["service web"]);
        assert_eq!(whats(2), ["task 1"]);
    }
}
