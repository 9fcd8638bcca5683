//! The AWS SDK on ecr-steward's own HTTP client (`steward::http::SdkHttpClient`), against moto:
//! requests and responses pass through unchanged, and failures reach the SDK's retry strategy
//! and ecr-steward's error classes as they should. A fault proxy sits between the SDK and moto.

// An integration test: a failed step is a failed test, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;

use aws_config::SdkConfig;
use steward::aws::classify;
use steward::error::Service;
use testbed::{Fault, FaultProxy, Stack};

const REGION: &str = "us-east-1";

fn through(stack: &Stack, endpoint: &str) -> SdkConfig {
    stack
        .sdk_config(REGION)
        .to_builder()
        .endpoint_url(endpoint)
        .build()
}

#[tokio::test]
async fn calls_and_answers_pass_through_unchanged() {
    let stack = Stack::start();
    let sns = aws_sdk_sns::Client::new(&stack.sdk_config(REGION));

    let created = sns
        .create_topic()
        .name("through-the-client")
        .send()
        .await
        .expect("CreateTopic");
    let arn = created.topic_arn().expect("a topic ARN");
    assert!(arn.ends_with(":through-the-client"), "{arn}");

    let listed = sns.list_topics().send().await.expect("ListTopics");
    let arns: Vec<_> = listed
        .topics()
        .iter()
        .filter_map(|t| t.topic_arn())
        .collect();
    assert_eq!(arns, [arn]);
}

#[tokio::test]
async fn a_burst_of_503s_is_retried_by_the_sdk() {
    let stack = Stack::start();
    let proxy = FaultProxy::start(stack.endpoint()).expect("start the proxy");
    proxy.set_fault(Fault::Unavailable { requests: 2 });
    let sns = aws_sdk_sns::Client::new(&through(&stack, &proxy.url()));

    let created = sns
        .create_topic()
        .name("after-two-503s")
        .send()
        .await
        .expect("the third attempt succeeds");

    assert!(created.topic_arn().is_some());
    let statuses: Vec<_> = proxy
        .requests()
        .iter()
        .map(|r| (r.injected, r.status))
        .collect();
    assert_eq!(
        statuses,
        [(true, Some(503)), (true, Some(503)), (false, Some(200))]
    );
}

#[tokio::test]
async fn a_service_that_stays_unavailable_is_a_retryable_error() {
    let stack = Stack::start();
    let proxy = FaultProxy::start(stack.endpoint()).expect("start the proxy");
    proxy.set_fault(Fault::AlwaysUnavailable);
    let ecr = aws_sdk_ecr::Client::new(&through(&stack, &proxy.url()));

    let error = ecr
        .describe_repositories()
        .send()
        .await
        .expect_err("every attempt gets a 503");
    let error = classify(Service::Ecr, error);

    assert_eq!(error.error_type(), "Retryable.Unavailable", "{error}");
    assert_eq!(proxy.requests().len(), 3, "the SDK's three attempts");
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_retryable_error_that_says_so() {
    let stack = Stack::start();
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        format!("http://{}", listener.local_addr().expect("its address"))
    };
    let ecr = aws_sdk_ecr::Client::new(&through(&stack, &closed));

    let error = ecr
        .describe_repositories()
        .send()
        .await
        .expect_err("nothing listens there");
    let error = classify(Service::Ecr, error);

    assert_eq!(error.error_type(), "Retryable.Unavailable", "{error}");
    let message = error.to_string();
    assert!(
        message.contains("connect") || message.contains("refused"),
        "{message}"
    );
}
