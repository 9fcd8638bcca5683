//! `replicate`: a backfill, or a one-off copy. The plan (which image goes where, with which
//! tags) from the repositories and images ECR lists, then the copies, one after the other.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

use crate::error::StewardError;
use crate::glob::Glob;
use crate::image::ImageRef;
use crate::policy::{Pattern, Policy, Target};
use crate::ports::{ImageCatalog, Replicator};
use crate::replication::{is_source, replication_targets, CopyRun};

/// Where the copies go.
#[derive(Debug, Clone)]
pub enum Destinations {
    /// The policy's replication rules decide destinations and tags.
    Policy,
    /// These regions, every tag, the same repository name.
    Regions {
        /// The destination regions.
        regions: Vec<String>,
        /// Create a missing destination repository.
        create_repository: bool,
    },
}

/// What to copy.
#[derive(Debug, Clone)]
pub struct BackfillRequest {
    /// The source region.
    pub region: String,
    /// The source repositories: names or globs.
    pub repositories: Glob,
    /// Where the copies go.
    pub destinations: Destinations,
    /// Only tags matching this (anchored) pattern.
    pub tags: Option<Pattern>,
}

/// One image to copy to one place, with the tags it gets there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedCopy {
    /// The source repository.
    pub repository: String,
    /// The image, by digest.
    pub digest: String,
    /// The tags it gets at the destination.
    pub tags: Vec<String>,
    /// Where it goes.
    pub target: Target,
}

/// A planned copy and how it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopyResult {
    /// What was to be copied.
    #[serde(flatten)]
    pub copy: PlannedCopy,
    /// How it went.
    #[serde(flatten)]
    pub run: CopyRun,
}

/// Every copy the request asks for: each tagged image of each matching repository, grouped by
/// destination, never to the image's own place.
pub async fn plan<C: ImageCatalog>(
    policy: &Policy,
    ecr: &C,
    request: &BackfillRequest,
) -> Result<Vec<PlannedCopy>, StewardError> {
    let mut plan = Vec::new();
    for repository in ecr.repositories().await? {
        if !request.repositories.matches(&repository) {
            continue;
        }
        for image in ecr.tagged_images(&repository).await? {
            let source = ImageRef {
                account: None,
                region: request.region.clone(),
                repository: repository.clone(),
                digest: image.digest.clone(),
            };
            let mut by_place: BTreeMap<(String, Option<String>, String), PlannedCopy> =
                BTreeMap::new();
            let tags = image
                .tags
                .iter()
                .filter(|tag| request.tags.as_ref().is_none_or(|p| p.is_match(tag)));
            for tag in tags {
                for target in targets(policy, &request.destinations, &source, tag) {
                    let place = (
                        target.region.clone(),
                        target.account.clone(),
                        target.repository.clone(),
                    );
                    by_place
                        .entry(place)
                        .or_insert_with(|| PlannedCopy {
                            repository: repository.clone(),
                            digest: image.digest.clone(),
                            tags: Vec::new(),
                            target,
                        })
                        .tags
                        .push(tag.clone());
                }
            }
            plan.extend(by_place.into_values());
        }
    }
    Ok(plan)
}

fn targets(
    policy: &Policy,
    destinations: &Destinations,
    source: &ImageRef,
    tag: &str,
) -> Vec<Target> {
    match destinations {
        Destinations::Policy => replication_targets(policy, source, tag),
        Destinations::Regions {
            regions,
            create_repository,
        } => regions
            .iter()
            .map(|region| Target {
                rule: "--to".into(),
                region: region.clone(),
                account: None,
                repository: source.repository.clone(),
                create_repository: *create_repository,
            })
            .filter(|target| !is_source(target, source))
            .collect(),
    }
}

/// Makes the planned copies one after the other; `progress` hears of each before it starts
/// (its index and the plan's length). A failed copy does not stop the others.
pub async fn copy_all<R: Replicator>(
    replicator: &R,
    region: &str,
    plan: Vec<PlannedCopy>,
    mut progress: impl FnMut(usize, usize, &PlannedCopy),
) -> Vec<CopyResult> {
    let total = plan.len();
    let mut results = Vec::with_capacity(total);
    for (index, copy) in plan.into_iter().enumerate() {
        progress(index, total, &copy);
        let image = ImageRef {
            account: None,
            region: region.into(),
            repository: copy.repository.clone(),
            digest: copy.digest.clone(),
        };
        let started = Instant::now();
        let result = replicator.replicate(&image, &copy.tags, &copy.target).await;
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        results.push(CopyResult {
            run: CopyRun::new(result.map_err(|e| e.to_string()), duration_ms),
            copy,
        });
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::SourceFormat;
    use crate::testing::MemoryCatalog;

    const A: &str = "sha256:aaaa";
    const B: &str = "sha256:bbbb";

    fn catalog() -> MemoryCatalog {
        MemoryCatalog::default()
            .with_image("team/app", A, &["1.0.0", "1.0.0-rc.1"])
            .with_image("team/app", B, &["2.0.0", "latest"])
            .with_image("other/app", A, &["1.0.0"])
            .with_image("team/untagged", "sha256:cccc", &[])
    }

    fn request(destinations: Destinations, tags: Option<&str>) -> BackfillRequest {
        BackfillRequest {
            region: "us-east-1".into(),
            repositories: Glob::new("team/*").expect("glob"),
            destinations,
            tags: tags.map(|t| Pattern::new(t).expect("pattern")),
        }
    }

    fn summary(plan: &[PlannedCopy]) -> Vec<String> {
        plan.iter()
            .map(|c| {
                format!(
                    "{}@{} {} -> {}/{}",
                    c.repository,
                    c.digest,
                    c.tags.join(","),
                    c.target.region,
                    c.target.repository
                )
            })
            .collect()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_policy_picks_tags_and_places_and_never_the_image_s_own() {
        let policy = Policy::from_text(
            "version: 1\nrules:\n  - tags: { semver: {} }\nreplication:\n  - repositories: [\"team/*\"]\n    tags: { semver: { prerelease: false } }\n    destinations: [{ region: eu-west-1 }, { region: us-east-1 }]\n",
            "test",
            SourceFormat::Yaml,
        )
        .expect("policy");
        let plan = plan(&policy, &catalog(), &request(Destinations::Policy, None))
            .await
            .expect("planned");
        assert_eq!(
            summary(&plan),
            [
                "team/app@sha256:aaaa 1.0.0 -> eu-west-1/team/app",
                "team/app@sha256:bbbb 2.0.0 -> eu-west-1/team/app",
            ]
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn explicit_regions_take_every_tag_the_pattern_admits() {
        let to = Destinations::Regions {
            regions: vec!["eu-west-1".into(), "us-east-1".into()],
            create_repository: true,
        };
        let plan = plan(
            &Policy::builtin(),
            &catalog(),
            &request(to, Some("[0-9.]+")),
        )
        .await
        .expect("planned");
        assert_eq!(
            summary(&plan),
            [
                "team/app@sha256:aaaa 1.0.0 -> eu-west-1/team/app",
                "team/app@sha256:bbbb 2.0.0 -> eu-west-1/team/app",
            ]
        );
        assert!(plan.iter().all(|c| c.target.create_repository));
    }
}
