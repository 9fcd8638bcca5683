use serde_json::{json, Value};

use super::*;
use crate::error::Service;
use crate::notify::ImageRef;
use crate::policy::Target;
use crate::replication::{CopyStats, RegionOutcome, ReplicationReport};

const NOW_MS: u64 = 1_764_633_600_123;

fn everything() -> Measurements {
    let mut m = Measurements::new(Function::Replicator);
    m.event(EventOutcome::Done(Outcome::ReplicationFailed));
    m.violations("tag.literals.deny", 1);
    m.violations("labels.required", 2);
    m.tag_removed();
    m.scan_breach(VulnSeverity::Critical);
    m.scan_breach(VulnSeverity::High);
    m.copy(RegionStatus::Copied, 4096, Some(120));
    m.copy(RegionStatus::Copied, 1024, Some(80));
    m.copy(RegionStatus::Failed, 0, Some(30_000));
    m.copy(RegionStatus::TagMovedOn, 0, None);
    m.failure(&StewardError::Throttled {
        service: Service::Ecr,
        message: "slow down".into(),
    });
    m.property(Property::Repository, "team/web");
    m.property(Property::Tag, "1.4.2");
    m
}

/// The values of `metric` over `documents` whose `dimension` member is `value`.
fn values(documents: &[Value], metric: Metric, dimension: Option<(Dimension, &str)>) -> Vec<u64> {
    let mut found = Vec::new();
    for document in documents {
        if let Some((dimension, value)) = dimension {
            if document[dimension.as_str()] != value {
                continue;
            }
        }
        match &document[metric.name()] {
            Value::Number(n) => found.extend(n.as_u64()),
            Value::Array(items) => found.extend(items.iter().filter_map(Value::as_u64)),
            _ => {}
        }
    }
    found
}

#[test]
fn every_document_keeps_to_the_specification() {
    let documents = everything().emf(&Namespace::default(), NOW_MS);
    assert!(!documents.is_empty());
    for document in &documents {
        spec::check(document).unwrap_or_else(|e| panic!("{e}: {document:#}"));
        spec::check_line(&document.to_string()).expect("as a log line");
        assert_eq!(
            document["_aws"]["Timestamp"], NOW_MS,
            "milliseconds, as given"
        );
        assert_eq!(document["Function"], "replicator");
        assert_eq!(
            document["repository"], "team/web",
            "properties on every document"
        );
        for directive in document["_aws"]["CloudWatchMetrics"]
            .as_array()
            .expect("directives")
        {
            assert_eq!(directive["Namespace"], "ecr-steward");
            for definition in directive["Metrics"].as_array().expect("metrics") {
                let metric = Metric::ALL
                    .into_iter()
                    .find(|m| definition["Name"] == m.name())
                    .expect("a metric of the model");
                assert_eq!(definition["Unit"], metric.unit().as_str());
                assert_eq!(definition["StorageResolution"], 60);
                let set: Vec<&str> = metric.dimensions().iter().map(|d| d.as_str()).collect();
                assert_eq!(directive["Dimensions"], json!([set]), "{}", metric.name());
            }
        }
    }
    // Nothing lost or made up on the way.
    let dimension = |d, v| Some((d, v));
    assert_eq!(values(&documents, Metric::Events, None), [1]);
    assert_eq!(
        values(
            &documents,
            Metric::Violations,
            dimension(Dimension::Check, "labels.required")
        ),
        [2]
    );
    assert_eq!(values(&documents, Metric::Violations, None).len(), 2);
    assert_eq!(values(&documents, Metric::ScanBreaches, None), [1, 1]);
    assert_eq!(
        values(
            &documents,
            Metric::CopyLatency,
            dimension(Dimension::Status, "copied")
        ),
        [120, 80]
    );
    assert_eq!(values(&documents, Metric::BytesCopied, None), [4096, 1024]);
    assert_eq!(
        values(
            &documents,
            Metric::Copies,
            dimension(Dimension::Status, "tag-moved-on")
        ),
        [1]
    );
    assert_eq!(
        values(&documents, Metric::CopyLatency, None).len(),
        3,
        "moved-on is not timed"
    );
    assert_eq!(
        values(
            &documents,
            Metric::Failures,
            dimension(Dimension::ErrorClass, "Retryable.Throttled")
        ),
        [1]
    );
    // Two checks and three statuses cannot share a document; the rest can.
    assert_eq!(documents.len(), 3, "{documents:#?}");
}

#[test]
fn more_than_a_hundred_values_start_another_document() {
    let mut m = Measurements::new(Function::Replicator);
    for latency in 0..250 {
        m.copy(RegionStatus::AlreadyReplicated, 0, Some(latency));
    }
    let documents = m.emf(&Namespace::default(), NOW_MS);
    assert_eq!(documents.len(), 3);
    for document in &documents {
        spec::check(document).unwrap_or_else(|e| panic!("{e}"));
    }
    let counts: Vec<usize> = documents
        .iter()
        .map(|d| d["CopyLatency"].as_array().map_or(1, Vec::len))
        .collect();
    assert_eq!(counts, [100, 100, 50]);
    assert_eq!(values(&documents, Metric::Copies, None).len(), 250);
    assert_eq!(m.total(Metric::CopyLatency, &[]), (0..250).sum::<u64>());
}

#[test]
fn one_value_is_a_number_and_several_an_array() {
    let mut m = Measurements::new(Function::PushGuard);
    m.event(EventOutcome::Compliant);
    let documents = m.emf(
        &Namespace::parse("Platform/ECR").expect("namespace"),
        NOW_MS,
    );
    assert_eq!(
        documents,
        [json!({
            "_aws": {
                "Timestamp": NOW_MS,
                "CloudWatchMetrics": [{
                    "Namespace": "Platform/ECR",
                    "Dimensions": [["Function", "Outcome"]],
                    "Metrics": [{ "Name": "Events", "Unit": "Count", "StorageResolution": 60 }],
                }],
            },
            "Function": "push-guard",
            "Outcome": "compliant",
            "Events": 1,
        })]
    );
}

#[test]
fn the_vocabularies_fit_the_specification_and_never_collide() {
    for unit in Unit::ALL {
        assert!(spec::UNITS.contains(&unit.as_str()), "{unit:?}");
    }
    assert_eq!(
        Unit::ALL.len(),
        spec::UNITS.len(),
        "every EMF unit is modelled"
    );
    let mut names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
    names.extend(Dimension::ALL.iter().map(|d| d.as_str()));
    names.extend(Property::ALL.iter().map(|p| p.as_str()));
    names.push("_aws");
    let count = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), count, "a member name used twice: {names:?}");
    for metric in Metric::ALL {
        assert_eq!(metric.dimensions().first(), Some(&Dimension::Function));
        assert!(metric.dimensions().len() <= spec::MAX_DIMENSIONS_PER_SET);
    }
    for function in Function::ALL {
        assert!(function.as_str().len() <= spec::MAX_DIMENSION_VALUE_CHARS);
    }
}

#[test]
fn the_checker_refuses_what_the_specification_forbids() {
    let good = || {
        json!({
            "_aws": {
                "Timestamp": NOW_MS,
                "CloudWatchMetrics": [{
                    "Namespace": "ecr-steward",
                    "Dimensions": [["Function"]],
                    "Metrics": [{ "Name": "Events", "Unit": "Count" }],
                }],
            },
            "Function": "push-guard",
            "Events": [1, 2],
        })
    };
    assert_eq!(spec::check(&good()), Ok(()));
    let broken = |patch: &dyn Fn(&mut Value)| {
        let mut document = good();
        patch(&mut document);
        spec::check(&document).expect_err("refused")
    };
    assert!(broken(&|d| d["_aws"]["Timestamp"] = json!(NOW_MS / 1000)).contains("milliseconds"));
    assert!(broken(&|d| d["Function"] = json!(1)).contains("string target"));
    assert!(broken(&|d| d["Events"] = json!("1")).contains("numeric target"));
    assert!(
        broken(&|d| d["Events"] = json!((0..101).collect::<Vec<u32>>())).contains("101 values")
    );
    assert!(broken(
        &|d| d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = json!("Requests")
    )
    .contains("not a CloudWatch unit"));
    assert!(
        broken(&|d| d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = json!([]))
            .contains("non-empty")
    );
    assert!(broken(&|d| d["_aws"]["CloudWatchMetrics"][0]["Extra"] = json!(1)).contains("Extra"));
    assert!(
        broken(&|d| d["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0] =
            json!((0..31).map(|i| format!("D{i}")).collect::<Vec<_>>()))
        .contains("31 keys")
    );
    assert!(spec::check_line("prefix {}").is_err());
}

#[test]
fn namespaces_are_checked() {
    assert_eq!(Namespace::default().as_str(), "ecr-steward");
    assert!(Namespace::parse("Platform/ECR steward#1").is_ok());
    for bad in ["", "  ", ":x", "AWS/ECR", "naïve", &"n".repeat(256)] {
        assert!(Namespace::parse(bad).is_err(), "{bad:?}");
    }
}

fn target(region: &str) -> Target {
    Target {
        region: region.into(),
        account: None,
        repository: "team/web".into(),
        rule: "releases".into(),
        create_repository: false,
        encryption: None,
    }
}

#[test]
fn a_replication_counts_each_destination() {
    let image = ImageRef {
        account: Some("123456789012".into()),
        region: "us-east-1".into(),
        repository: "team/web".into(),
        digest: "sha256:abc".into(),
    };
    let copied = CopyStats {
        bytes_copied: 2048,
        blobs_copied: 2,
        manifests_copied: 1,
        tags_set: 1,
        ..CopyStats::default()
    };
    let report = ReplicatorReport::Copy(ReplicationReport::new(
        &image,
        &["1.4.2".to_string()],
        vec![
            RegionOutcome::new(&target("eu-west-1"), Ok(copied), 250),
            RegionOutcome::new(&target("eu-central-1"), Err("HTTP 503".into()), 40),
            RegionOutcome::moved_on(&target("ap-south-1")),
        ],
    ));
    let m = Measurements::of_report(Function::Replicator, &report);
    let outcome = |o: &str| m.total(Metric::Events, &[(Dimension::Outcome, o)]);
    assert_eq!(outcome("replication-failed"), 1);
    assert_eq!(m.total(Metric::Events, &[]), 1);
    assert_eq!(m.total(Metric::Copies, &[]), 3);
    assert_eq!(m.total(Metric::Copies, &[(Dimension::Status, "failed")]), 1);
    assert_eq!(m.total(Metric::BytesCopied, &[]), 2048);
    assert_eq!(
        m.total(Metric::CopyLatency, &[(Dimension::Status, "copied")]),
        250
    );
    assert_eq!(m.total(Metric::CopyLatency, &[]), 290);
    assert_eq!(
        m.properties().get(&Property::Tag).map(String::as_str),
        Some("1.4.2")
    );
}
