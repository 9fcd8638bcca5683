//! Retention against the local test bed, on one stack (moto's ECR, SNS and SQS, and the OCI
//! registry): releases on several major and minor lines, upstream-plus-revision tags,
//! pre-releases, commit tags, an untagged image, two multi-arch indexes, signature referrers
//! (`subject`), a floating alias and a protected tag.
//!
//! moto stamps every image with the moment of its push and cannot backdate it; the test bed's
//! moto (scripts/testbed/moto_clock.py) stamps these pushes 400 days in the past, so ages are
//! real and `prune` runs on the clock; the age cases with months between pushes run on the
//! in-memory fakes (core's and shared's unit tests). moto also reports no `artifactMediaType`
//! and no `subjectManifestDigest` (real ECR does), so the adapter reads every OCI manifest
//! there to find referrers; against AWS it reads only the indexes.
//!
//! 1. `ecr-steward prune --format json`: the plan, image by image;
//! 2. `ecr-steward prune --apply`: deletes exactly the planned set;
//! 3. `ecr-steward lifecycle render`: what it leaves out and why (exit 1), and the document it
//!    renders when it can, which moto's PutLifecyclePolicy accepts;
//! 4. a tag pushed between the plan and the deletion keeps its image;
//! 5. the `retention` binary through the Runtime API: deletes and notifies;
//! 6. images a Lambda function (a published version, by digest) and an ECS service (by tag) run are
//!    kept, whatever their age; `--apply` with a `--now` later than the clock is refused.

// An integration test: a failed step is a failed test, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_ecr::types::ImageIdentifier;
use serde_json::{json, Value};
use steward::aws::{AwsWorkloads, Ecr};
use steward::deadline::Deadline;
use steward::error::StewardError;
use steward::manifest::{sha256_digest, OCI_MANIFEST};
use steward::ops::retention::{run_retention, sources_for, RetentionSettings, Running};
use steward::policy::{Policy, SourceFormat};
use steward::ports::{ArchiveAnswer, DeleteAnswer, RetentionStore};
use steward::retention::ImageRecord;
use steward::timestamp::{Timestamp, DAY};
use testbed::{
    event_from_sample, function_binary, run_workloads, Answer, NotifiedStack, PushSpec, RuntimeApi,
};

const REGION: &str = "us-east-1";

const POLICY: &str = r#"
version: 1
rules:
  - name: services
    repositories: ["team/*"]
    tags:
      semver: { floating_aliases: true }
      upstream: { revision: 'c[0-9]+' }
      git_sha: { prefixes: ["sha-"] }
      literals: { allow: [stable] }
    retention:
      semver:
        keep_per_major: 2
        keep_per_minor: 1
        prerelease: { until_released: true, max_age_days: 30 }
      upstream: { keep_versions: 1, keep_revisions: 1 }
      git_sha: { keep_newest: 1 }
      untagged: { max_age_days: 7 }
      protect: [stable, "lts*"]
"#;

fn now() -> Timestamp {
    Timestamp(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
    )
}

/// Pushes `tags` onto one image (same seed, same bytes, same digest), returning its digest.
fn push(bed: &NotifiedStack, repository: &str, seed: &str, tags: &[&str]) -> String {
    let mut digest = String::new();
    for tag in tags {
        let spec = PushSpec::new(REGION, repository).seed(seed).tag(tag);
        digest = bed.stack.push_image(&spec).digest;
    }
    digest
}

/// A multi-arch index tagged `tag`: (index, children).
fn push_index(
    bed: &NotifiedStack,
    repository: &str,
    seed: &str,
    tag: &str,
) -> (String, Vec<String>) {
    let spec = PushSpec::new(REGION, repository)
        .seed(seed)
        .tag(tag)
        .platform("linux/amd64")
        .platform("linux/arm64");
    let pushed = bed.stack.push_image(&spec);
    assert_eq!(pushed.children.len(), 2);
    (pushed.digest, pushed.children)
}

/// A cosign-style signature of `subject`, pushed untagged with PutImage (push_image.py has no
/// `subject` option): an OCI manifest whose `subject` names the image.
async fn push_signature(bed: &NotifiedStack, repository: &str, subject: &str, n: u8) -> String {
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.empty.v1+json",
            "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
            "size": 2
        },
        "layers": [{
            "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
            "digest": format!("sha256:{}", format!("{n:02x}").repeat(32)),
            "size": 242
        }],
        "subject": { "mediaType": OCI_MANIFEST, "digest": subject, "size": 1000 }
    })
    .to_string();
    let digest = sha256_digest(manifest.as_bytes());
    bed.stack
        .ecr(REGION)
        .put_image()
        .repository_name(repository)
        .image_manifest(&manifest)
        .image_manifest_media_type(OCI_MANIFEST)
        .image_digest(&digest)
        .send()
        .await
        .expect("put the signature");
    digest
}

async fn digests(bed: &NotifiedStack, repository: &str) -> Vec<String> {
    let mut digests: Vec<String> = bed
        .stack
        .ecr(REGION)
        .describe_images()
        .repository_name(repository)
        .send()
        .await
        .expect("describe")
        .image_details()
        .iter()
        .filter_map(|d| d.image_digest().map(str::to_string))
        .collect();
    digests.sort();
    digests
}

/// The retention function's cursor parameter.
const CURSOR: &str = "/ecr-steward/test/retention-cursor";

fn ssm_put(bed: &NotifiedStack, name: &str, value: &str) {
    let status = bed
        .stack
        .command(bed.stack.python())
        .args(["-c", "import boto3, sys; boto3.client('ssm').put_parameter(Name=sys.argv[1], Value=sys.argv[2], Type='String', Overwrite=True)", name, value])
        .status()
        .expect("run python");
    assert!(status.success());
}

fn ssm_value(bed: &NotifiedStack, name: &str) -> String {
    let output = bed
        .stack
        .command(bed.stack.python())
        .args(["-c", "import boto3, sys; print(boto3.client('ssm').get_parameter(Name=sys.argv[1])['Parameter']['Value'])", name])
        .output()
        .expect("run python");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn cli(bed: &NotifiedStack, policy: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let output = bed
        .stack
        .command(function_binary("ecr-steward"))
        .args(args)
        .arg("--policy")
        .arg(policy)
        .output()
        .expect("run ecr-steward");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Ecr, with a real push of `tag` onto `digest` between the plan and the first deletion (at
/// the second listing: the recheck).
struct PushBetween<'a> {
    ecr: Ecr,
    client: aws_sdk_ecr::Client,
    repository: &'a str,
    digest: String,
    tag: &'a str,
    listings: AtomicUsize,
}

impl RetentionStore for PushBetween<'_> {
    async fn retention_images(&self, repository: &str) -> Result<Vec<ImageRecord>, StewardError> {
        if self.listings.fetch_add(1, Ordering::SeqCst) == 1 {
            let found = self
                .client
                .batch_get_image()
                .repository_name(self.repository)
                .image_ids(
                    ImageIdentifier::builder()
                        .image_digest(&self.digest)
                        .build(),
                )
                .accepted_media_types(OCI_MANIFEST)
                .send()
                .await
                .expect("get");
            let image = &found.images()[0];
            self.client
                .put_image()
                .repository_name(self.repository)
                .image_manifest(image.image_manifest().unwrap())
                .image_manifest_media_type(OCI_MANIFEST)
                .image_digest(&self.digest)
                .image_tag(self.tag)
                .send()
                .await
                .expect("retag");
        }
        self.ecr.retention_images(repository).await
    }

    async fn delete_images(
        &self,
        repository: &str,
        digests: &[String],
    ) -> Result<DeleteAnswer, StewardError> {
        self.ecr.delete_images(repository, digests).await
    }

    async fn repository_names(&self) -> Result<Vec<String>, StewardError> {
        self.ecr.repository_names().await
    }

    async fn archive_images(
        &self,
        repository: &str,
        digests: &[String],
    ) -> Result<ArchiveAnswer, StewardError> {
        self.ecr.archive_images(repository, digests).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_plans_applies_and_runs_on_its_schedule() {
    let bed = NotifiedStack::start(REGION).await;
    let dir = tempfile::tempdir().unwrap();
    let policy_file = dir.path().join("policy.yaml");
    std::fs::write(&policy_file, POLICY).unwrap();
    let repo = "team/app";
    bed.stack.push_ago(400 * DAY);

    // ---- the repository
    let mut expect: BTreeMap<String, (&str, &str, &str)> = BTreeMap::new();
    let mut image =
        |name: &'static str, digest: String, decision: &'static str, clause: &'static str| {
            expect.insert(digest.clone(), (name, decision, clause));
            digest
        };
    image(
        "1.0.0 + alias 1.0",
        push(&bed, repo, "a", &["1.0.0", "1.0"]),
        "keep",
        "floating-alias",
    );
    image(
        "1.0.1",
        push(&bed, repo, "b", &["1.0.1"]),
        "keep",
        "semver.release",
    );
    let old_minor = image(
        "1.1.0",
        push(&bed, repo, "c", &["1.1.0"]),
        "expire",
        "semver.release",
    );
    image(
        "1.1.1",
        push(&bed, repo, "d", &["1.1.1"]),
        "keep",
        "semver.release",
    );
    image(
        "1.2.0",
        push(&bed, repo, "e", &["1.2.0"]),
        "keep",
        "semver.release",
    );
    let newest_one = image(
        "1.2.1",
        push(&bed, repo, "f", &["1.2.1"]),
        "keep",
        "semver.release",
    );
    let (old_index, old_children) = push_index(&bed, repo, "g", "2.0.0");
    image("2.0.0 index", old_index.clone(), "expire", "semver.release");
    for child in &old_children {
        image("2.0.0 child", child.clone(), "expire", "index-child");
    }
    image(
        "2.0.1",
        push(&bed, repo, "h", &["2.0.1"]),
        "keep",
        "semver.release",
    );
    let (kept_index, kept_children) = push_index(&bed, repo, "i", "2.1.0");
    // The floating alias `2` on the same index (same seed, same bytes).
    let spec = PushSpec::new(REGION, repo)
        .seed("i")
        .tag("2")
        .platform("linux/amd64")
        .platform("linux/arm64");
    assert_eq!(bed.stack.push_image(&spec).digest, kept_index);
    image("2.1.0 index", kept_index.clone(), "keep", "semver.release");
    for child in &kept_children {
        image("2.1.0 child", child.clone(), "keep", "index-child");
    }
    image(
        "3.0.0-rc.1",
        push(&bed, repo, "j", &["3.0.0-rc.1"]),
        "expire",
        "semver.prerelease",
    );
    image(
        "2.1.0-rc.1",
        push(&bed, repo, "k", &["2.1.0-rc.1"]),
        "expire",
        "semver.prerelease",
    );
    image(
        "8.0.12-c14",
        push(&bed, repo, "l", &["8.0.12-c14"]),
        "expire",
        "upstream",
    );
    image(
        "8.0.12-c15",
        push(&bed, repo, "m", &["8.0.12-c15"]),
        "keep",
        "upstream",
    );
    image(
        "8.0.9-c3 + stable",
        push(&bed, repo, "n", &["8.0.9-c3", "stable"]),
        "keep",
        "protect",
    );
    image(
        "sha-aaaaaaa",
        push(&bed, repo, "o", &["sha-aaaaaaa"]),
        "expire",
        "git-sha",
    );
    tokio::time::sleep(Duration::from_millis(1100)).await; // moto stamps whole seconds
    image(
        "sha-bbbbbbb",
        push(&bed, repo, "p", &["sha-bbbbbbb"]),
        "keep",
        "git-sha",
    );
    let untagged = bed
        .stack
        .push_image(&PushSpec::new(REGION, repo).seed("q"))
        .digest;
    image("untagged", untagged, "expire", "untagged");
    image(
        "signature of 1.2.1",
        push_signature(&bed, repo, &newest_one, 1).await,
        "keep",
        "referrer",
    );
    image(
        "signature of 1.1.0",
        push_signature(&bed, repo, &old_minor, 2).await,
        "expire",
        "referrer",
    );
    let all = digests(&bed, repo).await;
    assert_eq!(all.len(), expect.len());
    assert_eq!(all.len(), 23);

    // ---- 1. the plan, image by image, on images pushed 400 days ago
    let (code, stdout, stderr) = cli(
        &bed,
        &policy_file,
        &["prune", "--repository", "team/a*", "--format", "json"],
    );
    assert_eq!(code, 0, "{stderr}\n{stdout}");
    let document: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(document["applied"], false);
    let plan = &document["repositories"][0]["plan"];
    let mut planned = BTreeMap::new();
    for image in plan["images"].as_array().unwrap() {
        planned.insert(
            image["digest"].as_str().unwrap().to_string(),
            (
                image["decision"].as_str().unwrap().to_string(),
                image["reasons"][0]["clause"].as_str().unwrap().to_string(),
            ),
        );
    }
    for (digest, (name, decision, clause)) in &expect {
        assert_eq!(
            planned.get(digest).map(|(d, c)| (d.as_str(), c.as_str())),
            Some((*decision, *clause)),
            "{name} {digest}"
        );
    }
    let expired: Vec<String> = expect
        .iter()
        .filter(|(_, (_, decision, _))| *decision == "expire")
        .map(|(digest, _)| digest.clone())
        .collect();
    assert_eq!(expired.len(), 10);
    assert_eq!(digests(&bed, repo).await, all, "a dry run deletes nothing");
    // The text plan names each image's reason.
    let (code, text, _) = cli(&bed, &policy_file, &["prune"]);
    assert_eq!(code, 0);
    assert!(
        text.contains("team/app (rule services): 23 images, 13 kept, 10 expire"),
        "{text}"
    );
    assert!(text.contains("8.0.12-c14 [upstream]: 8.0.12 is among the newest 1 versions of 8.0.x (#1); c14 is not among the newest 1 revisions of 8.0.12 (#2)"), "{text}");
    assert!(text.contains("dry run, nothing changed"), "{text}");
    assert!(
        text.starts_with("1 repositories: 10 images would be deleted"),
        "the totals first: {text}"
    );
    // --only-changes: the same plan, without the images kept.
    let (code, changes, _) = cli(&bed, &policy_file, &["prune", "--only-changes"]);
    assert_eq!(code, 0);
    let image_lines = |text: &str, mark: &str| {
        text.lines()
            .filter(|l| l.trim_start().starts_with(mark))
            .count()
    };
    assert_eq!(image_lines(&changes, "EXPIRE"), 10, "{changes}");
    assert_eq!(image_lines(&changes, "keep"), 0, "{changes}");
    assert_eq!(image_lines(&text, "keep"), 13, "{text}");

    // ---- 2. --apply deletes exactly the planned set
    let (code, text, stderr) = cli(&bed, &policy_file, &["prune", "--apply"]);
    assert_eq!(code, 0, "{stderr}\n{text}");
    assert!(
        text.contains("deleted 10, kept on recheck 0, already gone 0, not deleted 0"),
        "{text}"
    );
    let mut kept: Vec<String> = all
        .iter()
        .filter(|d| !expired.contains(d))
        .cloned()
        .collect();
    kept.sort();
    assert_eq!(digests(&bed, repo).await, kept);

    // ---- 3. the lifecycle policy ECR can run without expiring what the planner keeps
    let (code, said, _) = cli(
        &bed,
        &policy_file,
        &["lifecycle", "render", "--repository", repo],
    );
    assert_eq!(code, 1, "clauses are left out: {said}");
    assert!(said.contains("nothing rendered"), "{said}");
    assert!(
        said.contains(
            "- git_sha: ECR selects an image when a tag prefix or pattern matches any of its tags"
        ),
        "{said}"
    );
    assert!(said.contains("run, by digest (lambda, ecs)"), "{said}");
    let quiet_file = dir.path().join("quiet.yaml");
    std::fs::write(
        &quiet_file,
        POLICY.replace(
            "      protect: [stable, \"lts*\"]",
            "      protect: [stable, \"lts*\"]\n      in_use: { lambda: false, ecs: false }",
        ),
    )
    .unwrap();
    let document = dir.path().join("lifecycle.json");
    let (code, said, _) = cli(
        &bed,
        &quiet_file,
        &[
            "lifecycle",
            "render",
            "--repository",
            repo,
            "--referrers-untagged",
            "--output",
            document.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("1 lifecycle rule"), "{said}");
    let rendered = std::fs::read_to_string(&document).unwrap();
    let parsed: Value = serde_json::from_str(&rendered).expect("JSON");
    assert_eq!(parsed["rules"][0]["selection"]["tagStatus"], "untagged");
    assert_eq!(parsed["rules"].as_array().unwrap().len(), 1);
    let put = bed
        .stack
        .ecr(REGION)
        .put_lifecycle_policy()
        .repository_name(repo)
        .lifecycle_policy_text(&rendered)
        .send()
        .await
        .expect("moto accepts the rendered lifecycle policy");
    assert_eq!(put.repository_name(), Some(repo));

    // ---- 4. a tag pushed between the plan and the deletion keeps its image
    let race = "team/race";
    let old = push(&bed, race, "r1", &["5.0.0"]);
    push(&bed, race, "r2", &["5.0.1"]);
    push(&bed, race, "r3", &["5.1.0"]);
    let policy = Policy::from_text(POLICY, "policy.yaml", SourceFormat::Yaml).unwrap();
    let sdk = bed.stack.sdk_config(REGION);
    let store = PushBetween {
        ecr: Ecr::new(&sdk),
        client: bed.stack.ecr(REGION),
        repository: race,
        digest: old.clone(),
        tag: "lts-5",
        listings: AtomicUsize::new(0),
    };
    let settings = RetentionSettings {
        now: now(),
        apply: true,
        deadline: Deadline::unlimited(),
    };
    let workloads = AwsWorkloads::new(&sdk);
    let running = Running::gather(
        &workloads,
        &sources_for(&policy, &[race.to_string()]),
        &Deadline::unlimited(),
    )
    .await;
    let result = run_retention(
        &store,
        &workloads,
        &policy,
        race,
        &settings,
        &running,
        &mut |_| {},
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        result
            .plan
            .expired_digests()
            .into_iter()
            .collect::<Vec<_>>(),
        std::slice::from_ref(&old)
    );
    assert_eq!(result.pruning.kept_on_recheck, std::slice::from_ref(&old));
    assert!(result.pruning.deleted.is_empty());
    assert_eq!(
        bed.stack.image_tags(REGION, race, &old).await,
        Some(vec!["5.0.0".to_string(), "lts-5".to_string()])
    );

    // ---- 5. the scheduled function, through the Runtime API, applying
    let scheduled = "team/fn";
    let doomed = push(&bed, scheduled, "s1", &["6.0.0"]);
    push(&bed, scheduled, "s2", &["6.0.1"]);
    push(&bed, scheduled, "s3", &["6.1.0"]);
    // The stack's cursor parameter, as the template creates it, left mid-way by a run.
    ssm_put(&bed, CURSOR, "team/b");
    let env = bed.stack.function_env(
        &bed.topic,
        &[
            ("STEWARD_POLICY", POLICY),
            ("STEWARD_RETENTION_APPLY", "true"),
            ("STEWARD_RETENTION_CURSOR", CURSOR),
        ],
    );
    let event = event_from_sample("retention-scheduled.json", |event| {
        event["time"] = now().to_string().into();
        event["account"] = "123456789012".into();
    });
    let answers = RuntimeApi::invoke_binary(&function_binary("retention"), &env, vec![event])
        .unwrap_or_else(|e| panic!("{e}"));
    let Answer::Response(report) = &answers[0] else {
        panic!("{answers:?}");
    };
    assert_eq!(report["outcome"], "pruned", "{report:#}");
    let handled: Vec<&str> = report["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["repository"].as_str().unwrap())
        .collect();
    assert_eq!(
        handled,
        ["team/fn", "team/race", "team/app"],
        "from where the last run stopped, then around"
    );
    assert_eq!(bed.stack.image_tags(REGION, scheduled, &doomed).await, None);
    let envelopes = bed.notifications(1).await;
    assert_eq!(
        envelopes.len(),
        1,
        "only team/fn had something to delete: {envelopes:#?}"
    );
    let message: Value = serde_json::from_str(envelopes[0]["Message"].as_str().unwrap()).unwrap();
    assert_eq!(
        message["content"]["title"],
        ":white_check_mark: Retention deleted 1 image in team/fn"
    );
    assert_eq!(message["metadata"]["eventType"], "retention.run");
    assert_eq!(
        message["metadata"]["additionalContext"]["outcome"],
        "pruned"
    );
    // Nothing is written on the repositories; the run finished, so the next starts at the
    // first repository.
    let arn = format!("arn:aws:ecr:{REGION}:123456789012:repository/{scheduled}");
    let tags = bed
        .stack
        .ecr(REGION)
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert!(tags.tags().is_empty(), "{tags:?}");
    assert_eq!(ssm_value(&bed, CURSOR), "-");

    // ---- 6. what runs is kept, whatever its age
    let running = "team/run";
    let pinned = bed
        .stack
        .push_image(&PushSpec::new(REGION, running).seed("u1"))
        .digest;
    let oldest = push(&bed, running, "u2", &["7.0.0"]);
    let served = push(&bed, running, "u3", &["7.0.1"]);
    push(&bed, running, "u4", &["7.0.2"]);
    push(&bed, running, "u5", &["7.0.3"]);
    let host = format!("123456789012.dkr.ecr.{REGION}.amazonaws.com/{running}");
    run_workloads(
        &bed.stack,
        &[
            "--lambda",
            &format!("nightly={host}@{pinned},publish"),
            "--lambda",
            &format!("api={host}:7.0.3"),
            "--ecs-service",
            &format!("prod/web={host}:7.0.1"),
        ],
    );
    let later = Timestamp(now().0 + 3600).to_string();
    let (code, _, refused) = cli(
        &bed,
        &policy_file,
        &["prune", "--repository", running, "--apply", "--now", &later],
    );
    assert_eq!(code, 2, "{refused}");
    assert!(refused.contains("is later than the clock"), "{refused}");
    let (code, text, stderr) = cli(
        &bed,
        &policy_file,
        &["prune", "--repository", running, "--apply"],
    );
    assert_eq!(code, 0, "{stderr}\n{text}");
    assert!(
        text.contains("team/run (rule services): 5 images, 4 kept, 1 expire"),
        "{text}"
    );
    assert!(
        text.contains("<untagged>               [in-use]: in use: Lambda function nightly; Lambda function nightly (version 1)"),
        "{text}"
    );
    assert!(
        text.contains("7.0.1                    [in-use]: in use: ECS service web of cluster prod"),
        "{text}"
    );
    assert_eq!(bed.stack.image_tags(REGION, running, &oldest).await, None);
    assert!(bed
        .stack
        .image_tags(REGION, running, &served)
        .await
        .is_some());
    assert_eq!(
        bed.stack.image_tags(REGION, running, &pinned).await,
        Some(vec![])
    );
}
