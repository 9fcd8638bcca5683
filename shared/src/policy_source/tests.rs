use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::testing::{Inbox, MemoryPolicyStore};

const FIRST: &str = "version: 1\nrules:\n  - name: first\n    tags: { semver: {} }\n";
const SECOND: &str = "version: 1\nrules:\n  - name: second\n    tags: { semver: {} }\n";
/// No rules: refused at line 2, column 8.
const BROKEN: &str = "version: 1\nrules: []\n";
const MINUTE: Duration = Duration::from_secs(60);

fn location() -> PolicyLocation {
    PolicyLocation::parse("s3://config/ecr/policy.yaml").expect("a location")
}

struct Bed {
    refresh: PolicyRefresh<MemoryPolicyStore, Inbox>,
    live: LivePolicy,
    start: Instant,
}

impl Bed {
    async fn new() -> Self {
        let store = MemoryPolicyStore::with(FIRST);
        let (policy, version) = load(&store, &location()).await.expect("loads");
        let live = LivePolicy::from(policy);
        let start = Instant::now();
        let refresh = PolicyRefresh::new(
            location(),
            store,
            Inbox::default(),
            live.clone(),
            version,
            MINUTE,
            "eu-west-1",
            start,
        );
        Self {
            refresh,
            live,
            start,
        }
    }

    async fn check_after(&self, elapsed: Duration) -> Checked {
        self.refresh.check_at(self.start + elapsed).await
    }

    fn rule(&self) -> String {
        self.live.current().rules[0].name.clone()
    }
}

#[test]
fn locations_parse_and_print_back() {
    for text in [
        "s3://bucket/dir/policy.yaml",
        "ssm:/ecr-steward/policy",
        "ssm:policy",
    ] {
        let location = PolicyLocation::parse(text).expect("valid");
        assert_eq!(location.to_string(), text);
        assert!(PolicyLocation::looks_like(text));
    }
    assert!(!PolicyLocation::looks_like("policy.yaml"));
    for text in [
        "s3://bucket",
        "s3://bucket/",
        "s3:///key",
        "ssm:",
        "ssm:a b",
        "policy.yaml",
    ] {
        assert!(PolicyLocation::parse(text).is_err(), "{text}");
    }
}

#[tokio::test]
async fn the_first_read_is_validated_with_the_location_in_the_position() {
    let store = MemoryPolicyStore::with(BROKEN);
    let error = load(&store, &location()).await.expect_err("invalid");
    let message = error.to_string();
    assert!(
        message.contains("s3://config/ecr/policy.yaml:2:8"),
        "{message}"
    );
    store.set_unreachable(true);
    let error = load(&store, &location()).await.expect_err("unreadable");
    assert!(
        error
            .to_string()
            .starts_with("the policy at s3://config/ecr/policy.yaml cannot be read"),
        "{error}"
    );
}

#[tokio::test]
async fn the_store_is_asked_at_most_once_an_interval() {
    let bed = Bed::new().await;
    let reads = bed.refresh.store.reads();
    assert_eq!(bed.check_after(Duration::ZERO).await, Checked::NotDue);
    assert_eq!(
        bed.check_after(MINUTE - Duration::from_millis(1)).await,
        Checked::NotDue
    );
    assert_eq!(
        bed.refresh.store.reads(),
        reads,
        "not asked before the interval"
    );
    assert_eq!(bed.check_after(MINUTE).await, Checked::Unchanged);
    assert_eq!(
        bed.check_after(MINUTE + Duration::from_secs(59)).await,
        Checked::NotDue
    );
    assert_eq!(bed.check_after(2 * MINUTE).await, Checked::Unchanged);
    assert_eq!(bed.refresh.store.reads(), reads + 2);
}

#[tokio::test]
async fn an_unchanged_policy_is_not_parsed_again() {
    let bed = Bed::new().await;
    let before = bed.live.current();
    assert_eq!(bed.check_after(MINUTE).await, Checked::Unchanged);
    assert!(
        Arc::ptr_eq(&before, &bed.live.current()),
        "the same policy, not a new parse"
    );
}

#[tokio::test]
async fn a_valid_new_version_is_put_in_force() {
    let bed = Bed::new().await;
    assert_eq!(bed.rule(), "first");
    bed.refresh.store.put(SECOND);
    assert_eq!(bed.check_after(MINUTE / 2).await, Checked::NotDue);
    assert_eq!(bed.rule(), "first", "not before the check is due");
    assert_eq!(
        bed.check_after(MINUTE).await,
        Checked::Updated {
            version: "2".into()
        }
    );
    assert_eq!(bed.rule(), "second");
    assert!(bed.refresh.notifier.received().is_empty());
}

#[tokio::test]
async fn an_invalid_version_keeps_the_last_good_policy_and_is_notified_once() {
    let bed = Bed::new().await;
    bed.refresh.store.put(BROKEN);
    let checked = bed.check_after(MINUTE).await;
    assert!(
        matches!(&checked, Checked::Rejected { version, error } if version == "2" && error.contains("policy.yaml:2:8")),
        "{checked:?}"
    );
    for minutes in 2..5 {
        assert_eq!(bed.check_after(minutes * MINUTE).await, Checked::Unchanged);
    }
    assert_eq!(bed.rule(), "first");
    let notified = bed.refresh.notifier.received();
    assert_eq!(notified.len(), 1, "one notification for the bad version");
    let notification = &notified[0];
    assert_eq!(notification.outcome, Outcome::PolicyRejected);
    assert_eq!(notification.event_type, EventType::PolicyUpdate);
    assert_eq!(
        notification.context["location"],
        "s3://config/ecr/policy.yaml"
    );
    assert_eq!(notification.context["version"], "2");
    assert!(
        notification
            .description
            .contains("s3://config/ecr/policy.yaml:2:8"),
        "{}",
        notification.description
    );
    assert!(notification.image.repository.is_empty());

    bed.refresh.store.put(BROKEN);
    let checked = bed.check_after(5 * MINUTE).await;
    assert!(
        matches!(&checked, Checked::Rejected { version, error } if version == "3" && error.contains("policy.yaml:2:8")),
        "{checked:?}"
    );
    assert_eq!(
        bed.refresh.notifier.received().len(),
        2,
        "another bad version, another notification"
    );
    bed.refresh.store.put(SECOND);
    assert_eq!(
        bed.check_after(6 * MINUTE).await,
        Checked::Updated {
            version: "4".into()
        }
    );
    assert_eq!(bed.rule(), "second");
}

#[tokio::test]
async fn an_unreachable_store_keeps_the_policy_and_is_asked_again_next_time() {
    let bed = Bed::new().await;
    bed.refresh.store.put(SECOND);
    bed.refresh.store.set_unreachable(true);
    assert_eq!(bed.check_after(MINUTE).await, Checked::Unreachable);
    assert_eq!(bed.rule(), "first");
    assert_eq!(
        bed.check_after(MINUTE + Duration::from_secs(1)).await,
        Checked::NotDue
    );
    bed.refresh.store.set_unreachable(false);
    assert_eq!(
        bed.check_after(2 * MINUTE).await,
        Checked::Updated {
            version: "2".into()
        }
    );
    assert_eq!(bed.rule(), "second");
    assert!(bed.refresh.notifier.received().is_empty());
}

/// Refuses its first `failures` publications.
#[derive(Default)]
struct Flaky {
    failures: usize,
    attempts: AtomicUsize,
    inbox: Inbox,
}

impl Notifier for Flaky {
    async fn publish(&self, notification: &Notification) -> Result<(), StewardError> {
        if self.attempts.fetch_add(1, Ordering::SeqCst) < self.failures {
            return Err(StewardError::Unavailable {
                service: crate::error::Service::Sns,
                message: "down".into(),
            });
        }
        self.inbox.publish(notification).await
    }
}

#[tokio::test]
async fn a_notification_that_could_not_be_published_is_sent_at_the_next_check() {
    let store = MemoryPolicyStore::with(FIRST);
    let (policy, version) = load(&store, &location()).await.expect("loads");
    let start = Instant::now();
    let refresh = PolicyRefresh::new(
        location(),
        store,
        Flaky {
            failures: 1,
            ..Flaky::default()
        },
        LivePolicy::from(policy),
        version,
        MINUTE,
        "eu-west-1",
        start,
    );
    refresh.store.put(BROKEN);
    refresh.check_at(start + MINUTE).await;
    assert!(refresh.notifier.inbox.received().is_empty());
    assert_eq!(
        refresh.check_at(start + 2 * MINUTE).await,
        Checked::Unchanged
    );
    assert_eq!(refresh.notifier.inbox.received().len(), 1);
    refresh.check_at(start + 3 * MINUTE).await;
    assert_eq!(refresh.notifier.inbox.received().len(), 1, "sent once");
}

#[test]
fn the_rejection_renders_as_a_notification_about_no_repository() {
    let error = location().parse_policy(BROKEN).expect_err("invalid");
    let notification = rejected(&location(), "\"abc\"", &error, "eu-west-1");
    let message = notification.chat_message();
    assert_eq!(message["metadata"]["eventType"], "policy.update");
    assert_eq!(message["metadata"]["threadId"], "policy.update");
    assert_eq!(
        message["metadata"]["additionalContext"]["outcome"],
        "policy-rejected"
    );
    assert!(notification.subject().len() < 100);
    let names: Vec<&str> = notification.attributes().iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["event_type", "severity", "outcome", "region"]);
    assert_eq!(
        notification.link,
        "https://eu-west-1.console.aws.amazon.com/s3/object/config?region=eu-west-1&prefix=ecr/policy.yaml"
    );
}
