//! `ecr-steward audit` as an operator runs it: the built binary (`cargo build --workspace`
//! first) over a registry of 56 repositories and about 2,000 images in two regions
//! (`testbed::audit_registry`: moto's ECR for the catalog and settings, the stack's OCI
//! registries for labels), with one violation of every kind planted. The audit must find
//! each planted violation and nothing else.
//!
//! moto does not enforce IAM, so the denied repository is made by the fault proxy in front of
//! moto: it answers every ECR call naming `svc/locked` with `AccessDeniedException`, in the
//! shape ECR's JSON protocol uses.

// An integration test: a failed step is a failed test, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Output;
use std::time::Instant;

use serde_json::Value;
use testbed::audit_registry::{self, DENIED, EU, PLANTED, POLICY, US};
use testbed::{function_binary, Fault, FaultProxy, Stack};

struct Audit<'a> {
    stack: &'a Stack,
    policy: std::path::PathBuf,
    moto: &'a FaultProxy,
    /// In front of the us-east-1 and eu-west-1 registries, counting reads.
    registries: [&'a FaultProxy; 2],
}

impl Audit<'_> {
    fn run(&self, args: &[&str]) -> Output {
        let started = Instant::now();
        let output = self
            .stack
            .command(function_binary("ecr-steward"))
            .env("AWS_ENDPOINT_URL", self.moto.url())
            .env("STEWARD_REGISTRY_US_EAST_1", self.registries[0].url())
            .env("STEWARD_REGISTRY_EU_WEST_1", self.registries[1].url())
            .arg("audit")
            .arg("--policy")
            .arg(&self.policy)
            .args(["--region", US, "--region", EU])
            .args(args)
            .output()
            .expect("run ecr-steward audit");
        eprintln!("audit {args:?}: {:?}", started.elapsed());
        output
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "current_thread")]
async fn the_audit_finds_every_planted_violation_and_nothing_else() {
    // The plain data plane: on the ECR-like one each of the 4,000 label reads costs the
    // registry several calls to moto's S3, one Python process, and the test five minutes
    // instead of 35 s. The registry client's TLS, tokens and redirects are tested in
    // data_plane.rs, the copy and function tests.
    let stack = Stack::start_plain();
    let started = Instant::now();
    let seeded = audit_registry::seed(&stack).await;
    eprintln!(
        "seeded {} repositories, {} images in {:?}",
        seeded.repositories,
        seeded.images,
        started.elapsed()
    );
    assert!(seeded.repositories >= 50, "{seeded:?}");
    // 1,200 in us-east-1, 398 of them replicated and 1 other image in eu-west-1, 420 in
    // eu-west-1 only, 1 ungoverned, 3 denied, 5 planted violations and 1 pre-release.
    assert_eq!(seeded.images, 2029, "{seeded:?}");

    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, POLICY).unwrap();
    let moto = stack.proxy(stack.endpoint());
    moto.set_fault(Fault::DenyRepository { repository: DENIED });
    let us = stack.proxy(stack.registry(US));
    let eu = stack.proxy(stack.registry(EU));
    let audit = Audit {
        stack: &stack,
        policy,
        moto: &moto,
        registries: [&us, &eu],
    };

    // JSON: finding by finding.
    let output = audit.run(&["--format", "json"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    // Off a terminal, progress comes as lines (each phase's end, and every 5 s), then the
    // warnings; nothing else.
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("audit: repositories ") && stderr.contains("audit: images 2026/2026"),
        "{stderr}"
    );
    assert!(
        stderr
            .lines()
            .all(|l| l.starts_with("audit: ") || l.starts_with("warning: ")),
        "{stderr}"
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("one JSON document");
    let found: Vec<(String, String, String, Option<String>)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["region"].as_str().unwrap().to_string(),
                f["repository"].as_str().unwrap().to_string(),
                f["check"].as_str().unwrap().to_string(),
                f["tag"].as_str().map(str::to_string),
            )
        })
        .collect();
    let mut expected: Vec<(String, String, String, Option<String>)> = PLANTED
        .iter()
        .map(|(region, repository, check, tag)| {
            (
                region.to_string(),
                repository.to_string(),
                check.to_string(),
                tag.map(str::to_string),
            )
        })
        .collect();
    let mut sorted = found.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected, "{:#}", report["findings"]);

    let by_check = |check: &str| -> Vec<&Value> {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["check"] == check)
            .collect()
    };
    // The index: each missing label of its arm64 image, named by platform.
    let index = by_check("labels.required")
        .into_iter()
        .filter(|f| f["repository"] == "svc/app-15")
        .collect::<Vec<_>>();
    assert!(
        index
            .iter()
            .all(|f| f["message"].as_str().unwrap().starts_with("linux/arm64:")),
        "{index:?}"
    );
    let mismatch = &by_check("replication.mismatch")[0];
    assert_eq!(mismatch["kind"], "replica-mismatch");
    assert_eq!(mismatch["destination"], "eu-west-1/svc/app-06");
    assert_eq!(mismatch["rule"], "releases-to-europe");
    assert!(mismatch["found_digest"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert_ne!(mismatch["found_digest"], mismatch["digest"]);
    let missing = &by_check("replication.missing")[0];
    assert_eq!(missing["kind"], "replica-missing");
    assert_eq!(missing["found_digest"], Value::Null);
    let denied = &by_check("access.denied")[0];
    assert_eq!(denied["kind"], "access-denied");
    assert!(
        denied["message"]
            .as_str()
            .unwrap()
            .contains("AccessDeniedException"),
        "{denied}"
    );
    let public = &by_check("repository.policy.public")[0];
    assert!(
        public["message"].as_str().unwrap().contains("AnyonePulls"),
        "{public}"
    );

    // The per-repository table and the totals.
    let repositories = report["repositories"].as_array().unwrap();
    assert_eq!(repositories.len(), seeded.repositories);
    let row = |region: &str, name: &str| -> &Value {
        repositories
            .iter()
            .find(|r| r["region"] == region && r["repository"] == name)
            .unwrap_or_else(|| panic!("no row for {region}/{name}"))
    };
    assert_eq!(row(US, DENIED)["access_denied"], true);
    assert_eq!(row(US, DENIED)["images"], 0);
    assert_eq!(row(EU, "misc/tools")["rule"], Value::Null);
    assert_eq!(row(US, "svc/app-00")["images"], 40);
    assert_eq!(row(US, "svc/app-00")["tags"], 45);
    assert_eq!(row(US, "svc/app-00")["compliant_tags"], 45);
    assert_eq!(row(US, "svc/app-15")["violations"]["labels.required"], 2);
    assert_eq!(row(US, "svc/app-05")["replicas_missing"], 1);
    assert_eq!(row(US, "svc/app-06")["replicas_mismatched"], 1);
    assert_eq!(row(US, "svc/app-20")["settings"], 1);
    let totals = &report["totals"];
    assert_eq!(totals["findings"], PLANTED.len());
    // Every image but the denied repository's three.
    assert_eq!(totals["images"], seeded.images - 3);
    assert_eq!(totals["by_kind"]["setting"], 7);
    assert_eq!(totals["by_check"]["labels.required"], 3, "{totals:#}");
    // The ungoverned repository's tags are counted apart, not as compliant, and said.
    assert_eq!(totals["ungoverned_repositories"], 1);
    assert_eq!(totals["ungoverned_tags"], row(EU, "misc/tools")["tags"]);
    let governed_tags: u64 = repositories
        .iter()
        .filter(|r| !r["rule"].is_null())
        .filter_map(|r| r["tags"].as_u64())
        .sum();
    assert_eq!(totals["tags"], governed_tags);
    let warning = "no rule governs 1 repository (eu-west-1/misc/tools)";
    assert!(
        report["warnings"][0]
            .as_str()
            .is_some_and(|w| w.starts_with(warning)),
        "{report:#}"
    );
    assert!(stderr.contains(&format!("warning: {warning}")), "{stderr}");
    assert_eq!(report["worst_offenders"][0]["repository"], "svc/app-15");
    assert_eq!(report["clean"], false);

    // Labels were read once per digest: one manifest GET a tagged image, plus the index's
    // two children, and one config GET a platform image; nothing else. The ungoverned
    // image (misc/tools) is not read at all.
    let images = totals["images"].as_u64().unwrap() as usize;
    let reads: Vec<_> = us.requests().into_iter().chain(eu.requests()).collect();
    let manifests = reads
        .iter()
        .filter(|r| r.method == "GET" && r.path().contains("/manifests/"))
        .count();
    let blobs = reads
        .iter()
        .filter(|r| r.method == "GET" && r.path().contains("/blobs/"))
        .count();
    assert_eq!(manifests, images - 1 + 2, "one manifest read a digest");
    assert_eq!(
        blobs,
        images - 1 - 1 + 2,
        "one config read a platform image"
    );
    assert_eq!(reads.len(), manifests + blobs, "no other registry request");
    us.take_requests();
    eu.take_requests();
    let ecr_requests = moto.take_requests().len();
    assert!(
        ecr_requests < seeded.repositories * 6 + 20,
        "{ecr_requests} ECR requests for {} repositories",
        seeded.repositories
    );

    // CSV (narrowed by glob, to keep the test quick): a header and one row per finding.
    let output = audit.run(&["--format", "csv", "--repository", "svc/app-1?"]);
    assert_eq!(output.status.code(), Some(1));
    let csv = text(&output.stdout);
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines[0],
        "region,repository,kind,check,rule,tag,digest,destination,found_digest,message"
    );
    assert_eq!(lines.len(), 1 + 6, "{csv}");
    assert!(
        lines.iter().any(|l| l.starts_with("us-east-1,svc/app-12,tag,tag.kinds,services,feature-x,sha256:")),
        "{csv}"
    );
    assert!(
        lines.iter().all(|l| l.split(',').count() >= 10),
        "ten columns a row: {csv}"
    );

    // Markdown: a headline, the table, the worst offenders, the findings by check.
    let output = audit.run(&["--format", "markdown", "--repository", "svc/app-1?"]);
    assert_eq!(output.status.code(), Some(1));
    let markdown = text(&output.stdout);
    assert!(markdown.starts_with("## ecr-steward audit\n"), "{markdown}");
    assert!(
        markdown.contains("**6 findings in 5 of 10 repositories"),
        "{markdown}"
    );
    assert!(
        markdown.contains(
            "| us-east-1 | `svc/app-15` | `services` | 41 | 46 | 45 | 2 | 0 | 0 | 0 | ok |"
        ),
        "{markdown}"
    );
    assert!(
        markdown.contains("### Worst offenders\n\n1. `svc/app-15` (us-east-1): 2 findings"),
        "{markdown}"
    );
    assert!(markdown.contains("| `labels.required` | 3 |"), "{markdown}");

    // Text, narrowed by glob: the settings finding of one repository.
    let output = audit.run(&["--repository", "svc/app-2?"]);
    assert_eq!(output.status.code(), Some(1));
    let table = text(&output.stdout);
    assert!(
        table.contains("7 findings in 7 of 10 repositories"),
        "{table}"
    );
    assert!(
        table.contains("us-east-1/svc/app-23 [repository.encryption]"),
        "{table}"
    );

    // A clean part of the registry exits 0; --max-images stops early and says so.
    let output = audit.run(&["--repository", "svc/eu-*", "--max-images", "100"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
    let table = text(&output.stdout);
    assert!(
        table.contains("0 findings in 0 of 14 repositories"),
        "{table}"
    );
    assert!(
        table
            .contains("100 images, 100 tags, 100 compliant; 320 images not audited (--max-images)"),
        "{table}"
    );

    // What no rule governs, or what matches nothing, is a warning; --strict fails on it.
    for (pattern, warning) in [
        (
            "misc/*",
            "warning: no rule governs 1 repository (eu-west-1/misc/tools)",
        ),
        (
            "team-z/*",
            "warning: no repository matches `team-z/*` in us-east-1, eu-west-1",
        ),
    ] {
        // In the text report, once; with a format for machines, on stderr for the log too.
        let output = audit.run(&["--repository", pattern]);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        assert!(
            text(&output.stdout).contains(warning) && !text(&output.stderr).contains(warning),
            "{}\n{}",
            text(&output.stdout),
            text(&output.stderr)
        );
        let csv = audit.run(&["--repository", pattern, "--format", "csv"]);
        assert!(text(&csv.stderr).contains(warning), "{}", text(&csv.stderr));
        let strict = audit.run(&["--repository", pattern, "--strict"]);
        assert_eq!(strict.status.code(), Some(1), "{pattern}");
    }
    let output = audit.run(&["--repository", "misc/*"]);
    assert!(
        text(&output.stdout)
            .contains("0 tags, 0 compliant; 1 tags in 1 ungoverned repository not judged"),
        "{}",
        text(&output.stdout)
    );

    // Totals first; filters narrow the findings and the table, not the totals.
    let output = audit.run(&[
        "--repository",
        "svc/app-1?",
        "--check",
        "labels",
        "--findings-only",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let table = text(&output.stdout);
    assert!(
        table.starts_with("6 findings in 5 of 10 repositories")
            && table.contains("\nBy check: labels.required 3, "),
        "{table}"
    );
    assert!(table.contains("Findings (4 of 6, as filtered):"), "{table}");
    let output = audit.run(&["--repository", "svc/app-1?", "--check", "label.required"]);
    assert!(
        text(&output.stdout).contains("warning: --check label.required matches no finding of this audit (checks found: labels.consistency.version, labels.required, tag.kinds, tag.literals.deny)"),
        "{}",
        text(&output.stdout)
    );
    let finding_lines: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("  us-east-1/"))
        .collect();
    assert_eq!(finding_lines.len(), 4, "{table}");
    assert!(
        finding_lines.iter().all(|l| l.contains("[labels.")),
        "{table}"
    );
    let rows = table
        .lines()
        .filter(|l| l.starts_with("us-east-1 "))
        .count();
    assert_eq!(rows, 5, "only the repositories with findings: {table}");

    // A usage error exits 2.
    let output = audit.run(&["--repository", "Bad Glob"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("--repository"));
}

/// Provenance in an audit: two releases, one signed with cosign by the configured key (real
/// P-256 keys, cosign's `sha256-<hex>.sig` tag scheme), one not. The unsigned one is one
/// `provenance.missing` finding; the signed one and its `.sig` tag are no finding at all.
#[tokio::test(flavor = "current_thread")]
async fn the_audit_reports_releases_without_a_valid_signature() {
    let stack = Stack::start();
    let signed = stack.push_image(&testbed::PushSpec::new(US, "team/app").tag("1.0.0"));
    let unsigned = stack.push_image(
        &testbed::PushSpec::new(US, "team/app")
            .tag("1.0.1")
            .seed("other"),
    );
    testbed::sign_image(
        &stack,
        &[
            "--region",
            US,
            "--repository",
            "team/app",
            "--digest",
            &signed.digest,
            "--scheme",
            "cosign-sig",
        ],
    );
    let key: String = std::fs::read_to_string(testbed::provenance_fixture("cosign.pub"))
        .unwrap()
        .lines()
        .map(|l| format!("          {l}\n"))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(
        &policy,
        format!("version: 1\nrules:\n  - name: releases\n    repositories: ['team/*']\n    tags: {{ semver: {{}} }}\n    provenance:\n      require: [signature]\n      schemes: [cosign]\n      cosign_keys:\n        - |\n{key}"),
    )
    .unwrap();
    let output = stack
        .command(function_binary("ecr-steward"))
        .args([
            "audit",
            "--region",
            US,
            "--repository",
            "team/*",
            "--format",
            "json",
            "--policy",
        ])
        .arg(&policy)
        .output()
        .expect("run ecr-steward audit");
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{report:#}");
    let finding = &findings[0];
    assert_eq!(finding["kind"], "provenance", "{report:#}");
    assert_eq!(finding["check"], "provenance.missing");
    assert_eq!(finding["digest"], unsigned.digest.as_str());
    assert_eq!(finding["tag"], "1.0.1");
    assert!(
        finding["message"]
            .as_str()
            .unwrap()
            .contains("has no valid signature"),
        "{finding:#}"
    );
}
