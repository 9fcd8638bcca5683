//! Retention: the plan of which images of a repository to keep and which to expire, from the
//! rule's `retention` section, with the reason for every image (the clause, and the tag).
//!
//! The plan is pure: the repository's images and `now` in, a typed [`Plan`] out. Its rules:
//! - an image is kept when any of its tags is kept; a tag no clause speaks of is kept;
//! - a protected tag, and a floating alias (`1`, `1.2`), keep the image they name;
//! - a kept index keeps its children; a kept image keeps its referrers (signatures, SBOMs);
//!   a kept referrer keeps its subject: nothing a kept manifest references is ever expired;
//! - an untagged child of an expired index, and an untagged referrer of an expired image, go
//!   with it.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::policy::{Retention, Rule, TagKind};
use crate::semver;
use crate::timestamp::Timestamp;
use crate::upstream::{compare_numbers, compare_versions};

/// One image of a repository, as ECR lists it, with what it references.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageRecord {
    /// The manifest digest (`sha256:…`).
    pub digest: String,
    /// The image's tags; empty for an untagged image.
    pub tags: Vec<String>,
    /// When it was pushed.
    pub pushed_at: Timestamp,
    /// When it was last pulled, as ECR records it (about daily); `None` when never or unknown.
    pub last_pulled: Option<Timestamp>,
    /// The manifest's media type.
    pub media_type: Option<String>,
    /// The image's size, as ECR reports it.
    pub size_bytes: Option<u64>,
    /// The manifests an index lists (its platform images); empty for an image manifest.
    pub children: Vec<String>,
    /// The image this one refers to (its `subject`: a signature's, an SBOM's image).
    pub subject: Option<String>,
    /// What runs it, as the policy's `in_use` sources report; kept whatever its age.
    pub in_use: Vec<Usage>,
    /// Its storage: active (standard), archived, or being restored.
    pub status: ImageStatus,
    /// When it was last archived, as ECR reports it.
    pub archived_at: Option<Timestamp>,
}

/// Where an image is, as ECR's `imageStatus` says: the archive storage class cannot be
/// pulled or scanned; restoring takes up to about 20 minutes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageStatus {
    /// In the standard storage class: pullable.
    #[default]
    Active,
    /// In the archive storage class.
    Archived,
    /// Being restored from the archive.
    Activating,
}

impl ImageStatus {
    /// `active`, `archived`, `activating`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Archived => "archived",
            Self::Activating => "activating",
        }
    }
}

/// A source of "this image runs" (the policy's `retention.in_use`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UsageSource {
    /// A Lambda function of package type Image.
    Lambda,
    /// An ECS service's task definition, or a running ECS task.
    Ecs,
    /// Amazon Inspector's in-use count (ECS tasks and EKS pods).
    Inspector,
}

impl UsageSource {
    /// The name the policy's `in_use` section gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lambda => "lambda",
            Self::Ecs => "ecs",
            Self::Inspector => "inspector",
        }
    }
}

/// One thing that runs an image, such as `Lambda function api (version 3)`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Usage {
    /// Who reported it.
    pub source: UsageSource,
    /// What runs it, in words.
    pub what: String,
    /// When it was last seen running, where the source tells.
    pub last_seen: Option<Timestamp>,
}

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.what)?;
        if let Some(at) = self.last_seen {
            write!(f, ", last seen {}", at.date())?;
        }
        Ok(())
    }
}

/// The clause of the retention section (or the rule of the planner) that decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Clause {
    /// `protect`: the tag is protected.
    #[serde(rename = "protect")]
    Protect,
    /// A floating alias (`1`, `1.2`) names the image.
    #[serde(rename = "floating-alias")]
    FloatingAlias,
    /// `semver.keep_per_major` / `semver.keep_per_minor`.
    #[serde(rename = "semver.release")]
    SemverRelease,
    /// `semver.prerelease`.
    #[serde(rename = "semver.prerelease")]
    SemverPrerelease,
    /// `upstream.keep_versions` / `upstream.keep_revisions`.
    #[serde(rename = "upstream")]
    Upstream,
    /// `git_sha.keep_newest` / `git_sha.max_age_days`.
    #[serde(rename = "git-sha")]
    GitSha,
    /// No clause speaks of the tag's kind: kept.
    #[serde(rename = "no-clause")]
    NoClause,
    /// `keep_pulled_within_days`.
    #[serde(rename = "pulled")]
    Pulled,
    /// `in_use`: a Lambda function, an ECS service or task, or Inspector says it runs.
    #[serde(rename = "in-use")]
    InUse,
    /// `quarantine.max_age_days`: enforce mode's `quarantine-*` tag.
    #[serde(rename = "quarantine")]
    Quarantine,
    /// `archive`: expired images go to the archive first; deleted after `delete_after_days`.
    #[serde(rename = "archive")]
    Archive,
    /// `untagged.max_age_days`.
    #[serde(rename = "untagged")]
    Untagged,
    /// The image is a child of an index (kept or expired with it).
    #[serde(rename = "index-child")]
    IndexChild,
    /// The image refers to another (kept or expired with it).
    #[serde(rename = "referrer")]
    Referrer,
    /// A kept referrer refers to the image.
    #[serde(rename = "subject")]
    Subject,
}

impl Clause {
    /// The clause's name in reports, such as `semver.release`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Protect => "protect",
            Self::FloatingAlias => "floating-alias",
            Self::SemverRelease => "semver.release",
            Self::SemverPrerelease => "semver.prerelease",
            Self::Upstream => "upstream",
            Self::GitSha => "git-sha",
            Self::NoClause => "no-clause",
            Self::Pulled => "pulled",
            Self::InUse => "in-use",
            Self::Quarantine => "quarantine",
            Self::Archive => "archive",
            Self::Untagged => "untagged",
            Self::IndexChild => "index-child",
            Self::Referrer => "referrer",
            Self::Subject => "subject",
        }
    }
}

/// Why an image is kept or expires: the clause, the tag it applied to, and in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// The clause that decided.
    pub clause: Clause,
    /// The tag it applied to; `None` for an untagged image or a reference.
    pub tag: Option<String>,
    /// What it found, such as `newest 2 of 1.4.x (#1)`.
    pub detail: String,
}

impl Reason {
    fn new(clause: Clause, tag: Option<&str>, detail: String) -> Self {
        Self {
            clause,
            tag: tag.map(Into::into),
            detail,
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.tag {
            Some(tag) => write!(f, "{} [{}]: {}", tag, self.clause.as_str(), self.detail),
            None => write!(f, "[{}]: {}", self.clause.as_str(), self.detail),
        }
    }
}

/// Keep, archive or expire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// The image stays where it is (in the archive, if it is archived).
    Keep,
    /// The image is to be moved to the archive storage class (the policy's `archive`).
    Archive,
    /// The image is to be deleted.
    Expire,
}

/// One image of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedImage {
    /// The manifest digest.
    pub digest: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// When it was pushed.
    pub pushed_at: Timestamp,
    /// Its size, as ECR reports it.
    pub size_bytes: Option<u64>,
    /// Active, archived or activating.
    pub status: ImageStatus,
    /// Keep, archive or expire.
    pub decision: Decision,
    /// Kept: what keeps it (every keeping tag or reference). Expired: why each tag expires.
    pub reasons: Vec<Reason>,
}

/// What retention does with a repository's images, image by image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The repository.
    pub repository: String,
    /// The policy rule whose retention section applied.
    pub rule: String,
    /// The moment ages were measured at.
    pub now: Timestamp,
    /// Every image, newest push first.
    pub images: Vec<PlannedImage>,
}

impl Plan {
    /// The images to delete.
    pub fn expired(&self) -> impl Iterator<Item = &PlannedImage> {
        self.images
            .iter()
            .filter(|image| image.decision == Decision::Expire)
    }

    /// The digests to delete.
    pub fn expired_digests(&self) -> BTreeSet<String> {
        self.expired().map(|image| image.digest.clone()).collect()
    }

    /// The images to archive.
    pub fn to_archive(&self) -> impl Iterator<Item = &PlannedImage> {
        self.images
            .iter()
            .filter(|image| image.decision == Decision::Archive)
    }

    /// The digests to archive.
    pub fn archive_digests(&self) -> BTreeSet<String> {
        self.to_archive()
            .map(|image| image.digest.clone())
            .collect()
    }

    /// How many images are kept (archived ones that stay archived among them).
    pub fn kept_count(&self) -> usize {
        self.images
            .iter()
            .filter(|image| image.decision == Decision::Keep)
            .count()
    }

    /// The bytes ECR reports for the expired images.
    pub fn expired_bytes(&self) -> u64 {
        self.expired().filter_map(|image| image.size_bytes).sum()
    }
}

/// What one tag says on its own.
enum TagSays {
    Keep(Reason),
    Expire(Reason),
    /// A referrer by tag (`sha256-<hex>.sig`): it goes with the image it names.
    Follows,
}

/// The tag kinds retention orders.
#[derive(Debug, Clone, Copy)]
enum Kind<'a> {
    Release(Triple<'a>),
    Prerelease(Triple<'a>),
    Alias,
    Upstream(crate::upstream::UpstreamTag<'a>),
    GitSha,
    TagReferrer,
    Quarantine,
    Other(TagKind),
}

/// `MAJOR.MINOR.PATCH` digits.
#[derive(Debug, Clone, Copy)]
struct Triple<'a>(&'a str, &'a str, &'a str);

fn classify<'a>(rule: &Rule, tag: &'a str) -> Kind<'a> {
    if let Some(upstream) = rule.upstream_shape(tag) {
        return Kind::Upstream(upstream);
    }
    if tag_scheme_subject(tag).is_some() {
        return Kind::TagReferrer;
    }
    if crate::push::is_quarantine_tag(tag) {
        return Kind::Quarantine;
    }
    let kind = rule.evaluate(tag, None).kind;
    let unprefixed = match tag.as_bytes() {
        [b'v' | b'V', second, ..] if second.is_ascii_digit() => &tag[1..],
        _ => tag,
    };
    match kind {
        TagKind::Semver => {
            if let Some(version) = semver::parse(unprefixed) {
                let triple = Triple(version.major, version.minor, version.patch);
                if version.pre_release.is_some() {
                    Kind::Prerelease(triple)
                } else {
                    Kind::Release(triple)
                }
            } else {
                Kind::Alias
            }
        }
        TagKind::GitSha => Kind::GitSha,
        other => Kind::Other(other),
    }
}

/// The subject a cosign-style tag names: `sha256-<64 hex>[.sig|.att|.sbom|…]` →
/// `sha256:<hex>` (the OCI referrers tag scheme, and cosign's).
pub fn tag_scheme_subject(tag: &str) -> Option<String> {
    let hex = tag.strip_prefix("sha256-")?;
    let hex = hex.split_once('.').map_or(hex, |(hex, _)| hex);
    (hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .then(|| format!("sha256:{hex}"))
}

/// Rank (0 = newest) of each key within its group, newest first by `order`.
fn ranks<K: Clone + Ord, G: Clone + Ord>(
    items: &[(G, K)],
    order: impl Fn(&K, &K) -> Ordering,
) -> BTreeMap<(G, K), (usize, usize)> {
    let mut groups: BTreeMap<G, Vec<K>> = BTreeMap::new();
    for (group, key) in items {
        groups.entry(group.clone()).or_default().push(key.clone());
    }
    let mut out = BTreeMap::new();
    for (group, mut keys) in groups {
        keys.sort_by(|a, b| order(b, a));
        keys.dedup_by(|a, b| order(a, b) == Ordering::Equal);
        let total = keys.len();
        for (rank, key) in keys.into_iter().enumerate() {
            out.insert((group.clone(), key), (rank, total));
        }
    }
    out
}

/// The numeric key of a version's parts, so `v1.2.3` and `1.2.3` (and `01`) are one version.
fn numeric(parts: &[&str]) -> Vec<String> {
    parts
        .iter()
        .map(|p| {
            let trimmed = p.trim_start_matches('0');
            if trimmed.is_empty() {
                "0".to_string()
            } else {
                trimmed.to_string()
            }
        })
        .collect()
}

fn cmp_numeric(a: &[String], b: &[String]) -> Ordering {
    compare_versions(&a.join("."), &b.join("."))
}

/// Plans retention for one repository's images at `now`, under `rule` and its `retention`.
pub fn plan(
    repository: &str,
    rule: &Rule,
    retention: &Retention,
    images: &[ImageRecord],
    now: Timestamp,
) -> Plan {
    let by_digest: BTreeMap<&str, &ImageRecord> =
        images.iter().map(|i| (i.digest.as_str(), i)).collect();
    let says = TagJudge::new(rule, retention, images, now);

    // What each image references, and who references it (within this repository).
    let mut references: BTreeMap<&str, Vec<(&str, Clause)>> = BTreeMap::new();
    let mut referrers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut parents: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for image in images {
        for child in &image.children {
            if let Some((child, _)) = by_digest.get_key_value(child.as_str()) {
                references
                    .entry(&image.digest)
                    .or_default()
                    .push((child, Clause::IndexChild));
                parents.entry(child).or_default().push(&image.digest);
            }
        }
        for subject in subjects_of(image) {
            if let Some((subject, _)) = by_digest.get_key_value(subject.as_str()) {
                references
                    .entry(&image.digest)
                    .or_default()
                    .push((subject, Clause::Subject));
                referrers.entry(subject).or_default().push(&image.digest);
            }
        }
    }

    // An archived (or restoring) index cannot be read, so its children are unknown: while one
    // is in the repository, untagged images nothing else links are kept (fail closed).
    let blind: Vec<&ImageRecord> = images
        .iter()
        .filter(|image| is_unread_index(image))
        .take(2)
        .collect();
    // Each image on its own: kept, expired, or following what references it / it refers to.
    let mut kept: BTreeMap<&str, Vec<Reason>> = BTreeMap::new();
    let mut expired: BTreeMap<&str, Vec<Reason>> = BTreeMap::new();
    let mut follows: BTreeSet<&str> = BTreeSet::new();
    for image in images {
        let digest = image.digest.as_str();
        let mut keeps = Vec::new();
        let mut expires = Vec::new();
        let mut follow = false;
        for tag in &image.tags {
            match says.tag(tag, image) {
                TagSays::Keep(reason) => keeps.push(reason),
                TagSays::Expire(reason) => expires.push(reason),
                TagSays::Follows => follow = true,
            }
        }
        let linked = parents.contains_key(digest)
            || subjects_of(image)
                .iter()
                .any(|s| by_digest.contains_key(s.as_str()));
        if image.tags.is_empty() {
            if linked {
                follow = true;
            } else if let Some(index) = blind.iter().find(|index| index.digest != image.digest) {
                keeps.push(Reason::new(
                    Clause::IndexChild,
                    None,
                    format!(
                        "maybe in archived index {}, whose children cannot be read until it is restored",
                        short(&index.digest)
                    ),
                ));
            } else {
                match says.untagged(image) {
                    TagSays::Keep(reason) => keeps.push(reason),
                    TagSays::Expire(reason) => expires.push(reason),
                    TagSays::Follows => follow = true,
                }
            }
        }
        if !image.in_use.is_empty() {
            keeps.push(in_use_reason(&image.in_use));
        }
        if keeps.is_empty() {
            if let Some(reason) = says.pulled(image) {
                keeps.push(reason);
            }
        }
        if !keeps.is_empty() {
            kept.insert(digest, keeps);
        } else if !expires.is_empty() {
            expired.insert(digest, expires);
        } else if follow && linked {
            follows.insert(digest);
        } else {
            // A referrer tag whose subject is not here: nothing says to expire it.
            kept.insert(
                digest,
                vec![Reason::new(
                    Clause::NoClause,
                    image.tags.first().map(String::as_str),
                    "refers to an image that is not in the repository".into(),
                )],
            );
        }
    }

    // What kept manifests reference is kept; a kept image keeps its referrers.
    let mut work: Vec<&str> = kept.keys().copied().collect();
    while let Some(digest) = work.pop() {
        let mut reached: Vec<(&str, Reason)> = Vec::new();
        for (target, clause) in references.get(digest).into_iter().flatten() {
            let detail = match clause {
                Clause::IndexChild => format!("in kept index {}", short(digest)),
                _ => format!("the subject of kept referrer {}", short(digest)),
            };
            reached.push((target, Reason::new(*clause, None, detail)));
        }
        for referrer in referrers.get(digest).into_iter().flatten() {
            reached.push((
                referrer,
                Reason::new(
                    Clause::Referrer,
                    None,
                    format!("refers to kept image {}", short(digest)),
                ),
            ));
        }
        for (target, reason) in reached {
            match kept.get_mut(target) {
                Some(reasons) => {
                    if !reasons.iter().any(|r| r.clause == reason.clause) {
                        reasons.push(reason);
                    }
                }
                None => {
                    expired.remove(target);
                    follows.remove(target);
                    kept.insert(target, vec![reason]);
                    work.push(target);
                }
            }
        }
    }

    // What only follows expired images goes with them.
    let followers: BTreeSet<&str> = follows.clone();
    for digest in follows {
        let mut reasons = Vec::new();
        for parent in parents.get(digest).into_iter().flatten() {
            reasons.push(Reason::new(
                Clause::IndexChild,
                None,
                format!("only in expired index {}", short(parent)),
            ));
        }
        if let Some(image) = by_digest.get(digest) {
            for subject in subjects_of(image) {
                if by_digest.contains_key(subject.as_str()) {
                    let tag = image
                        .tags
                        .iter()
                        .find(|t| tag_scheme_subject(t).as_deref() == Some(subject.as_str()));
                    reasons.push(Reason::new(
                        Clause::Referrer,
                        tag.map(String::as_str),
                        format!("refers to expired image {}", short(&subject)),
                    ));
                }
            }
        }
        expired.insert(digest, reasons);
    }

    let mut planned: Vec<PlannedImage> = images
        .iter()
        .map(|image| {
            let digest = image.digest.as_str();
            let (decision, reasons) = match kept.get(digest) {
                Some(reasons) => (Decision::Keep, reasons.clone()),
                // Decided below, as what it follows is.
                None if followers.contains(digest) => (
                    Decision::Expire,
                    expired.get(digest).cloned().unwrap_or_default(),
                ),
                None => {
                    let reasons = expired.get(digest).cloned().unwrap_or_default();
                    storage_step(retention, image, now, reasons)
                }
            };
            PlannedImage {
                digest: image.digest.clone(),
                tags: image.tags.clone(),
                pushed_at: image.pushed_at,
                size_bytes: image.size_bytes,
                status: image.status,
                decision,
                reasons,
            }
        })
        .collect();
    planned.dedup_by(|a, b| a.digest == b.digest);
    follow(&mut planned, &followers, &references);
    settle(&mut planned, &references, &followers);
    planned.sort_by(|a, b| {
        b.pushed_at
            .cmp(&a.pushed_at)
            .then_with(|| a.digest.cmp(&b.digest))
    });
    planned.dedup_by(|a, b| a.digest == b.digest);
    Plan {
        repository: repository.into(),
        rule: rule.name.clone(),
        now,
        images: planned,
    }
}

/// The references between planned images, by position: (referencing, referenced, how).
fn reference_edges(
    planned: &[PlannedImage],
    references: &BTreeMap<&str, Vec<(&str, Clause)>>,
) -> Vec<(usize, usize, Clause)> {
    let index: BTreeMap<&str, usize> = planned
        .iter()
        .enumerate()
        .map(|(i, image)| (image.digest.as_str(), i))
        .collect();
    let mut edges = Vec::new();
    for (from, targets) in references {
        let Some(&from) = index.get(from) else {
            continue;
        };
        for (to, clause) in targets {
            if let Some(&to) = index.get(to) {
                edges.push((from, to, *clause));
            }
        }
    }
    edges
}

/// An image that only follows others (an untagged child of expired indexes, an untagged
/// referrer of an expired image) ends where the most available of them ends: deleted with
/// them, archived with them (staying archived if it is), never apart. Decided leaders first;
/// one whose leaders never settle is kept.
fn follow(
    planned: &mut [PlannedImage],
    followers: &BTreeSet<&str>,
    references: &BTreeMap<&str, Vec<(&str, Clause)>>,
) {
    // follower → its leaders: the indexes that list it, the subjects it refers to.
    let mut leaders: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (from, to, clause) in reference_edges(planned, references) {
        let (follower, leader) = match clause {
            Clause::IndexChild => (to, from),
            _ => (from, to),
        };
        if followers.contains(planned[follower].digest.as_str()) {
            leaders.entry(follower).or_default().push(leader);
        }
    }
    let mut open: BTreeSet<usize> = leaders.keys().copied().collect();
    loop {
        let ready: Vec<usize> = open
            .iter()
            .copied()
            .filter(|f| leaders[f].iter().all(|l| !open.contains(l)))
            .collect();
        if ready.is_empty() {
            break;
        }
        for follower in ready {
            open.remove(&follower);
            let Some(strongest) = leaders[&follower]
                .iter()
                .copied()
                .max_by_key(|l| level(&planned[*l]))
            else {
                continue;
            };
            let target = level(&planned[strongest]);
            let other = short(&planned[strongest].digest).to_string();
            let image = &mut planned[follower];
            match (target, image.status) {
                (0, _) => {}
                (1, ImageStatus::Active) => image.decision = Decision::Archive,
                (1, _) => {
                    image.decision = Decision::Keep;
                    image.reasons = vec![Reason::new(
                        Clause::Archive,
                        None,
                        format!("stays archived with {other}"),
                    )];
                }
                _ => {
                    image.decision = Decision::Keep;
                    image.reasons = vec![Reason::new(
                        Clause::Archive,
                        None,
                        format!("kept with {other}"),
                    )];
                }
            }
        }
    }
    for follower in open {
        planned[follower].decision = Decision::Keep;
        planned[follower].reasons = vec![Reason::new(
            Clause::NoClause,
            None,
            "its references could not be settled: kept".into(),
        )];
    }
}

/// An index in the archive (or being restored): ECR cannot serve its manifest, so its
/// children are not known.
pub fn is_unread_index(image: &ImageRecord) -> bool {
    image.status != ImageStatus::Active
        && image.children.is_empty()
        && matches!(
            image.media_type.as_deref(),
            Some(crate::manifest::OCI_INDEX | crate::manifest::DOCKER_LIST)
        )
}

/// Where a decision leaves an image: 2 where it is and pullable, 1 in the archive (archived
/// now, or kept while archived), 0 deleted.
fn level(image: &PlannedImage) -> u8 {
    match (image.decision, image.status) {
        (Decision::Expire, _) => 0,
        (Decision::Archive, _)
        | (Decision::Keep, ImageStatus::Archived | ImageStatus::Activating) => 1,
        (Decision::Keep, _) => 2,
    }
}

/// Makes the decisions agree along references after the storage step: what a manifest
/// references (an index's child, a referrer's subject) is kept at least as well as the
/// manifest (never deleted while it stays, never archived while it is not), and a referrer
/// that follows its subject at least as well as the subject. Raised to the archive, an
/// archived image just stays there.
fn settle(
    planned: &mut [PlannedImage],
    references: &BTreeMap<&str, Vec<(&str, Clause)>>,
    followers: &BTreeSet<&str>,
) {
    // (stronger-or-equal, than): the first is raised to the second's decision when weaker.
    // What a manifest references is raised to the manifest; a referrer that only follows
    // its subject is raised with it (a kept image keeps its signatures).
    let mut edges = Vec::new();
    for (from, to, clause) in reference_edges(planned, references) {
        edges.push((to, from, clause));
        if clause == Clause::Subject && followers.contains(planned[from].digest.as_str()) {
            edges.push((from, to, Clause::Referrer));
        }
    }
    let mut changed = true;
    while changed {
        changed = false;
        for &(weak, strong, clause) in &edges {
            let target = level(&planned[strong]);
            if level(&planned[weak]) >= target {
                continue;
            }
            let other = short(&planned[strong].digest).to_string();
            let (decision, detail) = match (target, planned[weak].status) {
                (1, ImageStatus::Archived) => {
                    (Decision::Keep, format!("stays archived with {other}"))
                }
                (1, _) => (Decision::Archive, format!("archived with {other}")),
                _ => (Decision::Keep, format!("kept with {other}")),
            };
            let image = &mut planned[weak];
            if image.decision == decision {
                // An archived image kept: in the archive already, as far as it can be raised.
                continue;
            }
            image.decision = decision;
            image.reasons = vec![Reason::new(clause, None, detail)];
            changed = true;
        }
    }
}

/// What happens to an image the clauses expire, by where it is. With `archive`: an active one
/// is archived; an archived one is deleted once it has been archived `delete_after_days`,
/// else it stays archived; one being restored is left to finish (not archived again under
/// the user's hands). Without `archive`: it is deleted wherever it is.
fn storage_step(
    retention: &Retention,
    image: &ImageRecord,
    now: Timestamp,
    mut reasons: Vec<Reason>,
) -> (Decision, Vec<Reason>) {
    let archive = |detail: String| Reason::new(Clause::Archive, None, detail);
    match (image.status, &retention.archive) {
        (_, None) => (Decision::Expire, reasons),
        (ImageStatus::Activating, Some(_)) => (
            Decision::Keep,
            vec![archive(
                "being restored from the archive: not archived again this run".into(),
            )],
        ),
        (ImageStatus::Active, Some(_)) => (Decision::Archive, reasons),
        (ImageStatus::Archived, Some(section)) => {
            let since = image.archived_at.map(|at| at.days_until(now));
            match (section.delete_after_days, since) {
                (Some(days), Some(since)) if since >= i64::from(days.0) => {
                    reasons.push(archive(format!(
                        "archived {since} days ago, at least {} days",
                        days.0
                    )));
                    (Decision::Expire, reasons)
                }
                (Some(days), since) => (
                    Decision::Keep,
                    vec![archive(format!(
                        "stays archived: archived {} ago, deleted after {} days",
                        since.map_or("an unknown time".to_string(), |d| format!("{d} days")),
                        days.0
                    ))],
                ),
                (None, _) => (
                    Decision::Keep,
                    vec![archive("stays archived (no delete_after_days)".into())],
                ),
            }
        }
    }
}

/// `in use: Lambda function api (version 3); 2 ECS tasks or EKS pods, last seen 2026-12-03`.
fn in_use_reason(uses: &[Usage]) -> Reason {
    let words: Vec<String> = uses.iter().map(ToString::to_string).collect();
    Reason::new(Clause::InUse, None, format!("in use: {}", words.join("; ")))
}

/// The images `image` refers to: its `subject`, and the image a referrer tag names.
fn subjects_of(image: &ImageRecord) -> Vec<String> {
    let mut subjects: Vec<String> = image.subject.iter().cloned().collect();
    for tag in &image.tags {
        if let Some(subject) = tag_scheme_subject(tag) {
            if !subjects.contains(&subject) {
                subjects.push(subject);
            }
        }
    }
    subjects
}

/// `sha256:0123456789ab` (the first 12 hex digits).
pub fn short(digest: &str) -> &str {
    digest.get(..19).unwrap_or(digest)
}

/// A position within a group: (rank from 0 = newest, how many there are).
type Rank = (usize, usize);
/// A numeric version key: its parts without leading zeros.
type Key = Vec<String>;

/// The per-tag judgements, with the rankings they need computed once.
struct TagJudge<'a> {
    rule: &'a Rule,
    retention: &'a Retention,
    now: Timestamp,
    /// (major, [major, minor, patch]) → (rank, count) among the major's releases.
    per_major: BTreeMap<(String, Key), Rank>,
    /// ([major, minor], [major, minor, patch]) → (rank, count) among the line's releases.
    per_minor: BTreeMap<(Key, Key), Rank>,
    /// Released versions, as numeric triples.
    released: BTreeSet<Key>,
    /// (line, version) → (rank, count) among the line's upstream versions.
    upstream_versions: BTreeMap<(Key, Key), Rank>,
    /// (version, revision number, revision) → (rank, count) among the version's revisions.
    upstream_revisions: BTreeMap<(Key, (String, String)), Rank>,
    /// Digest → rank among images with a git-sha tag, newest push first.
    sha_rank: BTreeMap<String, usize>,
}

impl<'a> TagJudge<'a> {
    fn new(
        rule: &'a Rule,
        retention: &'a Retention,
        images: &[ImageRecord],
        now: Timestamp,
    ) -> Self {
        let mut releases_major = Vec::new();
        let mut releases_minor = Vec::new();
        let mut released = BTreeSet::new();
        let mut versions = Vec::new();
        let mut revisions = Vec::new();
        let mut sha_images: Vec<(Timestamp, &str)> = Vec::new();
        for image in images {
            let mut has_sha = false;
            for tag in &image.tags {
                match classify(rule, tag) {
                    Kind::Release(t) => {
                        let key = numeric(&[t.0, t.1, t.2]);
                        releases_major.push((key[0].clone(), key.clone()));
                        releases_minor.push((key[..2].to_vec(), key.clone()));
                        released.insert(key);
                    }
                    Kind::Upstream(u) => {
                        let version: Vec<&str> = u.version.split('.').collect();
                        let line = numeric(&version[..version.len() - 1]);
                        let version = numeric(&version);
                        let number = u.revision_number().map(|n| numeric(&[n])[0].clone());
                        versions.push((line, version.clone()));
                        revisions.push((
                            version,
                            (number.unwrap_or_default(), u.revision.to_string()),
                        ));
                    }
                    Kind::GitSha => has_sha = true,
                    _ => {}
                }
            }
            if has_sha {
                sha_images.push((image.pushed_at, &image.digest));
            }
        }
        sha_images.sort_by_key(|(at, digest)| (Reverse(*at), *digest));
        let revision_order = |a: &(String, String), b: &(String, String)| {
            match (a.0.is_empty(), b.0.is_empty()) {
                (false, false) => compare_numbers(&a.0, &b.0),
                (x, y) => y.cmp(&x),
            }
            .then_with(|| a.1.cmp(&b.1))
        };
        Self {
            rule,
            retention,
            now,
            per_major: ranks(&releases_major, |a, b| cmp_numeric(a, b)),
            per_minor: ranks(&releases_minor, |a, b| cmp_numeric(a, b)),
            released,
            upstream_versions: ranks(&versions, |a, b| cmp_numeric(a, b)),
            upstream_revisions: ranks(&revisions, revision_order),
            sha_rank: sha_images
                .iter()
                .enumerate()
                .map(|(rank, (_, digest))| (digest.to_string(), rank))
                .collect(),
        }
    }

    fn age_days(&self, image: &ImageRecord) -> i64 {
        image.pushed_at.days_until(self.now)
    }

    fn older_than(&self, image: &ImageRecord, days: u32) -> bool {
        image.pushed_at < self.now.minus_days(days)
    }

    fn tag(&self, tag: &str, image: &ImageRecord) -> TagSays {
        let keep = |clause, detail: String| TagSays::Keep(Reason::new(clause, Some(tag), detail));
        let expire =
            |clause, detail: String| TagSays::Expire(Reason::new(clause, Some(tag), detail));
        if let Some(glob) = self.retention.protect.iter().find(|g| g.matches(tag)) {
            return keep(Clause::Protect, format!("protected by `{}`", glob.as_str()));
        }
        let no_clause = |kind: &str| {
            keep(
                Clause::NoClause,
                format!("no retention clause for {kind} tags"),
            )
        };
        match classify(self.rule, tag) {
            Kind::Alias => keep(
                Clause::FloatingAlias,
                "a floating alias: the image it names is kept".into(),
            ),
            Kind::TagReferrer => TagSays::Follows,
            Kind::Release(t) => {
                let Some(semver) = &self.retention.semver else {
                    return no_clause("semver");
                };
                let key = numeric(&[t.0, t.1, t.2]);
                let major = self.per_major.get(&(key[0].clone(), key.clone()));
                let minor = self.per_minor.get(&(key[..2].to_vec(), key.clone()));
                let (major_line, minor_line) =
                    (format!("{}.x", key[0]), format!("{}.{}.x", key[0], key[1]));
                let mut kept_by = Vec::new();
                let mut beyond = Vec::new();
                for (limit, rank, line) in [
                    (semver.keep_per_major, major, &major_line),
                    (semver.keep_per_minor, minor, &minor_line),
                ] {
                    let (Some(limit), Some((rank, _))) = (limit, rank) else {
                        continue;
                    };
                    if *rank < limit.0 as usize {
                        kept_by.push(format!("newest {} of {line} (#{})", limit.0, rank + 1));
                    } else {
                        beyond.push(format!("the newest {} of {line} (#{})", limit.0, rank + 1));
                    }
                }
                if semver.keep_per_major.is_none() && semver.keep_per_minor.is_none() {
                    keep(Clause::SemverRelease, "no release count is set".into())
                } else if !kept_by.is_empty() {
                    keep(Clause::SemverRelease, kept_by.join(", "))
                } else {
                    expire(
                        Clause::SemverRelease,
                        format!("not among {}", beyond.join(" nor ")),
                    )
                }
            }
            Kind::Prerelease(t) => {
                let Some(pre) = self
                    .retention
                    .semver
                    .as_ref()
                    .and_then(|s| s.prerelease.as_ref())
                else {
                    return no_clause("pre-release");
                };
                let key = numeric(&[t.0, t.1, t.2]);
                let release = key.join(".");
                if pre.until_released && self.released.contains(&key) {
                    return expire(
                        Clause::SemverPrerelease,
                        format!("its release {release} exists"),
                    );
                }
                let age = self.age_days(image);
                if let Some(days) = pre.max_age_days {
                    if self.older_than(image, days.0) {
                        return expire(
                            Clause::SemverPrerelease,
                            format!("{age} days old, over {} days", days.0),
                        );
                    }
                }
                keep(
                    Clause::SemverPrerelease,
                    match pre.max_age_days {
                        Some(days) => format!("{age} days old, within {} days", days.0),
                        None => format!("release {release} not pushed yet"),
                    },
                )
            }
            Kind::Upstream(u) => {
                let Some(upstream) = &self.retention.upstream else {
                    return no_clause("upstream");
                };
                let parts: Vec<&str> = u.version.split('.').collect();
                let version = numeric(&parts);
                let line = numeric(&parts[..parts.len() - 1]);
                let number = u
                    .revision_number()
                    .map(|n| numeric(&[n])[0].clone())
                    .unwrap_or_default();
                let version_rank = self.upstream_versions.get(&(line, version.clone()));
                let revision_rank = self
                    .upstream_revisions
                    .get(&(version, (number, u.revision.to_string())));
                let line_name = match u.line() {
                    "" => "its line".to_string(),
                    line => format!("{line}.x"),
                };
                let mut words = Vec::new();
                let mut keeps = true;
                if let (Some(limit), Some((rank, _))) = (upstream.keep_versions, version_rank) {
                    let within = *rank < limit.0 as usize;
                    keeps &= within;
                    words.push(format!(
                        "{} {} among the newest {} versions of {line_name} (#{})",
                        u.version,
                        if within { "is" } else { "is not" },
                        limit.0,
                        rank + 1
                    ));
                }
                if let (Some(limit), Some((rank, _))) = (upstream.keep_revisions, revision_rank) {
                    let within = *rank < limit.0 as usize;
                    keeps &= within;
                    words.push(format!(
                        "{} {} among the newest {} revisions of {} (#{})",
                        u.revision,
                        if within { "is" } else { "is not" },
                        limit.0,
                        u.version,
                        rank + 1
                    ));
                }
                if words.is_empty() {
                    keep(Clause::Upstream, "no upstream count is set".into())
                } else if keeps {
                    keep(Clause::Upstream, words.join("; "))
                } else {
                    expire(Clause::Upstream, words.join("; "))
                }
            }
            Kind::GitSha => {
                let Some(sha) = &self.retention.git_sha else {
                    return no_clause("git-sha");
                };
                let rank = self.sha_rank.get(&image.digest).copied().unwrap_or(0);
                let age = self.age_days(image);
                let mut beyond = Vec::new();
                if let Some(limit) = sha.keep_newest {
                    if rank < limit.0 as usize {
                        return keep(
                            Clause::GitSha,
                            format!("newest {} commit images (#{})", limit.0, rank + 1),
                        );
                    }
                    beyond.push(format!("not among the newest {} (#{})", limit.0, rank + 1));
                }
                if let Some(days) = sha.max_age_days {
                    if !self.older_than(image, days.0) {
                        return keep(
                            Clause::GitSha,
                            format!("{age} days old, within {} days", days.0),
                        );
                    }
                    beyond.push(format!("{age} days old, over {} days", days.0));
                }
                if beyond.is_empty() {
                    keep(Clause::GitSha, "no count or age is set".into())
                } else {
                    expire(Clause::GitSha, beyond.join(", "))
                }
            }
            Kind::Quarantine => match &self.retention.quarantine {
                None => keep(
                    Clause::Quarantine,
                    "quarantined by enforce mode; no quarantine clause".into(),
                ),
                Some(clause) => {
                    let age = self.age_days(image);
                    let days = clause.max_age_days.0;
                    if self.older_than(image, days) {
                        expire(
                            Clause::Quarantine,
                            format!("quarantined, {age} days old, over {days} days"),
                        )
                    } else {
                        keep(
                            Clause::Quarantine,
                            format!("quarantined, {age} days old, within {days} days"),
                        )
                    }
                }
            },
            Kind::Other(kind) => no_clause(kind.as_str()),
        }
    }

    fn untagged(&self, image: &ImageRecord) -> TagSays {
        let age = self.age_days(image);
        match &self.retention.untagged {
            None => TagSays::Keep(Reason::new(
                Clause::NoClause,
                None,
                "untagged; no retention clause for untagged images".into(),
            )),
            Some(rule) if self.older_than(image, rule.max_age_days.0) => {
                TagSays::Expire(Reason::new(
                    Clause::Untagged,
                    None,
                    format!(
                        "untagged, {age} days old, over {} days",
                        rule.max_age_days.0
                    ),
                ))
            }
            Some(rule) => TagSays::Keep(Reason::new(
                Clause::Untagged,
                None,
                format!(
                    "untagged, {age} days old, within {} days",
                    rule.max_age_days.0
                ),
            )),
        }
    }

    fn pulled(&self, image: &ImageRecord) -> Option<Reason> {
        let days = self.retention.keep_pulled_within_days?;
        let pulled = image.last_pulled?;
        (pulled >= self.now.minus_days(days.0)).then(|| {
            Reason::new(
                Clause::Pulled,
                None,
                format!(
                    "pulled {} days ago, within {} days",
                    pulled.days_until(self.now),
                    days.0
                ),
            )
        })
    }
}

/// The order to delete `expired` images in: batches of at most `batch` digests, each image
/// after every expired image that references it (an index before its children, a referrer
/// before its subject), since ECR refuses to delete a manifest an index still lists.
pub fn deletion_batches(
    images: &[ImageRecord],
    expired: &BTreeSet<String>,
    batch: usize,
) -> Vec<Vec<String>> {
    let mut remaining: BTreeSet<&str> = expired.iter().map(String::as_str).collect();
    let mut batches = Vec::new();
    while !remaining.is_empty() {
        let referenced: BTreeSet<String> = images
            .iter()
            .filter(|image| remaining.contains(image.digest.as_str()))
            .flat_map(|image| image.children.iter().cloned().chain(subjects_of(image)))
            .collect();
        let mut layer: Vec<&str> = remaining
            .iter()
            .copied()
            .filter(|digest| !referenced.contains(*digest))
            .collect();
        if layer.is_empty() {
            // A reference cycle cannot be built with digests; take the rest as they are.
            layer = remaining.iter().copied().collect();
        }
        for digest in &layer {
            remaining.remove(digest);
        }
        for chunk in layer.chunks(batch.max(1)) {
            batches.push(chunk.iter().map(|d| d.to_string()).collect());
        }
    }
    batches
}

/// The repository as it would be without what others changed: the `fresh` listing, plus the
/// images of `original` this run has deleted already. Planning on it again just before a
/// deletion keeps every image a change since the plan (a new tag, a new index) keeps, and
/// still lets the children of an index deleted a batch ago follow it.
pub fn recheck_view(
    original: &[ImageRecord],
    deleted: &BTreeSet<String>,
    fresh: &[ImageRecord],
) -> Vec<ImageRecord> {
    let present: BTreeSet<&str> = fresh.iter().map(|i| i.digest.as_str()).collect();
    let mut view = fresh.to_vec();
    view.extend(
        original
            .iter()
            .filter(|i| deleted.contains(&i.digest) && !present.contains(i.digest.as_str()))
            .cloned(),
    );
    view
}

mod in_use;
mod lifecycle;
mod report;
pub use in_use::{attach_usage, parse_reference, Named, RunningImage};
pub use lifecycle::{lifecycle_policy, Assume, LeftOut, Lifecycle};
pub use report::{megabytes, DeleteFailure, RetentionResult};

#[cfg(test)]
mod tests;
