//! Throttling and outages of ECR and SNS, injected by a fault proxy in front of moto: the SDK
//! retries with backoff, an invocation answers with a retryable error before its deadline, and
//! nothing is half-done (a tag is never removed without its notification being attempted, and a
//! redelivery reports what the first delivery did).

// An integration test: a failed step is a failed test, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use push_guard::PushGuard;
use steward::aws::{Ecr, Registries, Sns};
use steward::deadline::Deadline;
use steward::harness::{Invocation, Invoke};
use steward::policy::{Mode, Policy};
use testbed::{push_event, Fault, FaultProxy, NotifiedStack, PushSpec, PushedImage};

const REGION: &str = "us-east-1";
const REPOSITORY: &str = "team/app";

struct Bed {
    notified: NotifiedStack,
    /// In front of moto: ECR and SNS calls go through it.
    proxy: FaultProxy,
}

impl std::ops::Deref for Bed {
    type Target = NotifiedStack;

    fn deref(&self) -> &NotifiedStack {
        &self.notified
    }
}

impl Bed {
    async fn start() -> Self {
        let notified = NotifiedStack::start(REGION).await;
        let proxy = FaultProxy::start(notified.stack.endpoint()).expect("start the proxy");
        Self { notified, proxy }
    }

    fn through_proxy(&self) -> SdkConfig {
        self.stack
            .sdk_config(REGION)
            .to_builder()
            .endpoint_url(self.proxy.url())
            .build()
    }

    /// push-guard in enforce mode; ECR through the proxy when `ecr_proxied`, SNS always.
    fn guard(&self, ecr_proxied: bool) -> PushGuard<Registries, Ecr, Sns> {
        let direct = self.stack.sdk_config(REGION);
        let proxied = self.through_proxy();
        let overrides =
            BTreeMap::from([(REGION.to_string(), self.stack.registry(REGION).to_string())]);
        PushGuard {
            policy: Policy::builtin().into(),
            mode_override: Some(Mode::Enforce),
            images: Registries::new(&direct, self.stack.http(), overrides),
            tags: Ecr::new(if ecr_proxied { &proxied } else { &direct }),
            notifier: Sns::new(&proxied, &self.topic),
            rechecks: None,
        }
    }

    /// `latest` beside a compliant `1.2.3` on one image.
    async fn tagged_latest(&self, seed: &str) -> PushedImage {
        // Labelled as the built-in policy wants, so that `1.2.3` is a tag that stays.
        let spec = PushSpec::new(REGION, REPOSITORY)
            .seed(seed)
            .labels(steward::labels::samples::COMPLIANT)
            .label("org.opencontainers.image.version", "1.2.3");
        self.stack.push_image(&spec.clone().tag("1.2.3"));
        self.stack.push_image(&spec.tag("latest"))
    }

    async fn tags(&self, image: &PushedImage) -> Option<Vec<String>> {
        self.stack
            .image_tags(&image.region, &image.repository, &image.digest)
            .await
    }

    fn injected(&self) -> usize {
        self.proxy.requests().iter().filter(|r| r.injected).count()
    }
}

#[tokio::test]
async fn a_burst_of_throttling_from_ecr_and_sns_is_retried_through() {
    let bed = Bed::start().await;
    let image = bed.tagged_latest("burst").await;
    bed.proxy.set_fault(Fault::Throttled { requests: 2 });

    let report = bed
        .guard(true)
        .invoke(push_event(&image))
        .await
        .expect("the SDK retried through the throttling");

    assert_eq!(report["outcome"], "tag-removed", "{report:#}");
    assert_eq!(bed.injected(), 2, "two throttled answers, then through");
    assert_eq!(bed.tags(&image).await, Some(vec!["1.2.3".to_string()]));
    let envelopes = bed.notifications(1).await;
    assert_eq!(envelopes.len(), 1, "{envelopes:#?}");
}

#[tokio::test]
async fn ecr_that_stays_throttled_gives_a_retryable_error_before_the_deadline_and_changes_nothing()
{
    let bed = Bed::start().await;
    let image = bed.tagged_latest("throttled").await;
    // The SDK retries a throttling error code 3 times; a bare 429 without a code it does not
    // retry itself, but ecr-steward classifies it as throttling, so Lambda retries the event.
    for (fault, attempts) in [
        (Fault::AlwaysThrottled, 3),
        (Fault::AlwaysTooManyRequests, 1),
    ] {
        bed.proxy.set_fault(fault);
        let deadline = Deadline::after(Duration::from_secs(8));
        let started = Instant::now();

        let error = deadline
            .run(
                bed.guard(true)
                    .invoke_with(push_event(&image), Invocation::until(deadline)),
            )
            .await
            .expect_err("ECR keeps throttling");

        assert!(
            started.elapsed() < Duration::from_secs(8),
            "{fault:?}: answered after the deadline ({:?})",
            started.elapsed()
        );
        assert_eq!(
            error.error_type(),
            "Retryable.Throttled",
            "{fault:?}: {error}"
        );
        let injected = bed.proxy.requests().iter().filter(|r| r.injected).count();
        assert!(injected >= attempts, "{fault:?}: {injected}");
        assert_eq!(
            bed.tags(&image).await,
            Some(vec!["1.2.3".to_string(), "latest".to_string()]),
            "nothing changed"
        );
        bed.proxy.take_requests();
    }
}

#[tokio::test]
async fn a_deadline_too_close_for_a_change_and_its_notice_changes_nothing() {
    let bed = Bed::start().await;
    let image = bed.tagged_latest("late").await;
    let deadline = Deadline::after(push_guard::CHANGE_RESERVE / 2);

    let error = bed
        .guard(false)
        .invoke_with(push_event(&image), Invocation::until(deadline))
        .await
        .expect_err("too little time");

    assert_eq!(error.error_type(), "Retryable.DeadlineExceeded", "{error}");
    assert_eq!(
        bed.tags(&image).await,
        Some(vec!["1.2.3".to_string(), "latest".to_string()])
    );
}

#[tokio::test]
async fn sns_down_after_a_removal_fails_retryably_and_the_redelivery_reports_it() {
    let bed = Bed::start().await;
    let image = bed.tagged_latest("sns-down").await;
    bed.proxy.set_fault(Fault::AlwaysThrottled);
    let guard = bed.guard(false);

    let error = guard
        .invoke(push_event(&image))
        .await
        .expect_err("SNS keeps throttling");

    assert_eq!(error.error_type(), "Retryable.Throttled", "{error}");
    assert!(bed.injected() >= 3, "the publish was attempted and retried");
    assert_eq!(bed.tags(&image).await, Some(vec!["1.2.3".to_string()]));

    // Lambda's retry, once SNS is back: the removal is reported, once, as already done.
    bed.proxy.set_fault(Fault::PassThrough);
    let report = guard.invoke(push_event(&image)).await.expect("redelivered");
    assert_eq!(report["outcome"], "already-removed", "{report:#}");
    let envelopes = bed.notifications(1).await;
    assert_eq!(envelopes.len(), 1, "{envelopes:#?}");
    assert_eq!(
        envelopes[0]["MessageAttributes"]["outcome"]["Value"],
        "already-removed"
    );
}
