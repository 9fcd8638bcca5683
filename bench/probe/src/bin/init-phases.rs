//! push-guard's init, step by step (the same calls as functions/push-guard/src/main.rs, so that
//! each can be timed), then the first and second use
//! of each client against the local test bed. Prints one JSON object: step -> microseconds.
//!
//! Run it with the test bed's env (AWS_*, STEWARD_TOPIC_ARN, STEWARD_REGISTRY_US_EAST_1) and,
//! for the registry step, PROBE_REPOSITORY and PROBE_DIGEST naming a pushed image. Each process
//! is one cold sample: bench/init-phases runs it repeatedly.
//!
//! Each step has its wall time and the process's CPU time (CLOCK_PROCESS_CPUTIME_ID, all
//! threads), so that a loaded machine shows as wall > CPU.

use std::collections::BTreeMap;
use std::time::Instant;

use steward::aws::{sdk_config, Ecr, Registries, Sns};
use steward::config::FunctionConfig;
use steward::http::TrustRoots;
use steward::ports::ImageReader;

/// The process's CPU time so far, in ns.
fn cpu_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a pointer to a timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) };
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

struct Clock {
    last: Instant,
    last_cpu: u64,
    steps: Vec<(&'static str, u128, u64)>,
}

impl Clock {
    fn lap(&mut self, step: &'static str) {
        let cpu = cpu_ns();
        let now = Instant::now();
        self.steps.push((
            step,
            (now - self.last).as_micros(),
            cpu.saturating_sub(self.last_cpu) / 1000,
        ));
        self.last = Instant::now();
        self.last_cpu = cpu_ns();
    }
}

fn main() {
    let start = Instant::now();
    let start_cpu = cpu_ns();
    let mut clock = Clock {
        last: start,
        last_cpu: start_cpu,
        steps: Vec::new(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    clock.lap("tokio runtime");
    runtime.block_on(async move {
        lambda_runtime::tracing::init_default_subscriber();
        clock.lap("tracing subscriber");
        let config = FunctionConfig::for_lambda_init().expect("config");
        clock.lap("config + built-in policy");
        let http = steward::http::client(TrustRoots::for_lambda()).expect("the HTTP client");
        clock.lap("HTTP client (reqwest, rustls, roots)");
        let sdk = sdk_config(&http).await;
        clock.lap("aws_config load");
        let registries = Registries::new(&sdk, http, config.registry_overrides.clone());
        clock.lap("Registries::new");
        let ecr = Ecr::new(&sdk);
        clock.lap("ECR client");
        let sns = Sns::new(&sdk, &config.topic_arn);
        clock.lap("SNS client");
        let init = (
            start.elapsed().as_micros(),
            (cpu_ns() - start_cpu) / 1000,
        );

        if std::env::var_os("AWS_ENDPOINT_URL").is_some() {
            ecr.registry_credentials().await.expect("GetAuthorizationToken");
            clock.lap("1st ECR call (GetAuthorizationToken)");
            ecr.registry_credentials().await.expect("GetAuthorizationToken");
            clock.lap("2nd ECR call");
            let _ = sns;
            let sns_client = aws_sdk_sns::Client::new(&sdk);
            sns_client.list_topics().send().await.expect("ListTopics");
            clock.lap("1st SNS call (ListTopics)");
            sns_client.list_topics().send().await.expect("ListTopics");
            clock.lap("2nd SNS call");
            if let (Ok(repository), Ok(digest)) = (
                std::env::var("PROBE_REPOSITORY"),
                std::env::var("PROBE_DIGEST"),
            ) {
                registries
                    .platform_labels("us-east-1", &repository, &digest)
                    .await
                    .expect("labels");
                clock.lap("1st registry read (token + manifest + config)");
                registries
                    .platform_labels("us-east-1", &repository, &digest)
                    .await
                    .expect("labels");
                clock.lap("2nd registry read");
            }
        }
        let mut out: BTreeMap<String, (u128, u64)> = BTreeMap::new();
        for (number, (step, micros, cpu)) in clock.steps.iter().enumerate() {
            out.insert(format!("{number:02} {step}"), (*micros, *cpu));
        }
        out.insert("init total (main -> clients)".into(), init);
        println!("{}", serde_json::to_string(&out).expect("json"));
    });
}
