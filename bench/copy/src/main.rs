//! copy-bench: copies one image between two registries and prints one JSON line with the
//! in-process timings, the copy's stats and the peak RSS (`VmHWM`).
//!
//! ```sh
//! copy-bench --from http://127.0.0.1:5001 --from-repository bench/large \
//!            --to http://127.0.0.1:5002 --to-repository run-1 \
//!            --digest sha256:… --tag v1 [--parallelism 4] [--threads 0] [--engine steward]
//! ```
//!
//! Engines:
//! - `steward` (default): `steward::oci::copy::copy_image`, as the replicator function and
//!   `ecr-steward replicate` call it (current-thread runtime unless `--threads N`);
//! - `nohash`: the same requests through the same `RegistryClient`, with the body forwarded
//!   as is (no sha256, no size check, no end-of-body check): what verification costs.

use std::process::ExitCode;
use std::time::Instant;

use futures_util::{stream, StreamExt, TryStreamExt};
use serde_json::json;
use steward::error::StewardError;
use steward::http::TrustRoots;
use steward::oci::copy::{copy_image, CopyOptions, Endpoint};
use steward::oci::registry::RegistryClient;
use steward::replication::CopyStats;

struct Args {
    from: String,
    from_repository: String,
    to: String,
    to_repository: String,
    digest: String,
    tags: Vec<String>,
    parallelism: usize,
    threads: usize,
    engine: String,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        from: String::new(),
        from_repository: String::new(),
        to: String::new(),
        to_repository: String::new(),
        digest: String::new(),
        tags: Vec::new(),
        parallelism: CopyOptions::default().parallelism,
        threads: 0,
        engine: "steward".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--from" => args.from = value()?,
            "--from-repository" => args.from_repository = value()?,
            "--to" => args.to = value()?,
            "--to-repository" => args.to_repository = value()?,
            "--digest" => args.digest = value()?,
            "--tag" => args.tags.push(value()?),
            "--parallelism" => args.parallelism = value()?.parse().map_err(|e| format!("{e}"))?,
            "--threads" => args.threads = value()?.parse().map_err(|e| format!("{e}"))?,
            "--engine" => args.engine = value()?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.from.is_empty() || args.to.is_empty() || args.digest.is_empty() {
        return Err("--from, --to and --digest are required".into());
    }
    if args.from_repository.is_empty() || args.to_repository.is_empty() {
        return Err("--from-repository and --to-repository are required".into());
    }
    Ok(args)
}

/// Peak resident set size so far, in KiB (`VmHWM` in /proc/self/status).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("copy-bench: {message}");
            return ExitCode::from(2);
        }
    };
    let runtime = if args.threads == 0 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("copy-bench: {error}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let outcome = runtime.block_on(async {
        // As the functions do: the bundled roots unless SSL_CERT_FILE names a store.
        let http = steward::http::client(TrustRoots::for_lambda())?;
        let authorization = std::env::var("REGISTRY_AUTHORIZATION").ok();
        let from = RegistryClient::new(http.clone(), &args.from, authorization.clone());
        let to = RegistryClient::new(http, &args.to, authorization);
        let setup_ms = started.elapsed().as_secs_f64() * 1e3;
        let source = Endpoint {
            registry: &from,
            repository: &args.from_repository,
        };
        let destination = Endpoint {
            registry: &to,
            repository: &args.to_repository,
        };
        let options = CopyOptions {
            parallelism: args.parallelism,
            ..CopyOptions::default()
        };
        let copy_started = Instant::now();
        let stats = match args.engine.as_str() {
            "steward" => {
                copy_image(source, destination, &args.digest, &args.tags, &options).await?
            }
            "nohash" => {
                copy_unverified(source, destination, &args.digest, &args.tags, &options).await?
            }
            other => {
                return Err(StewardError::MalformedEvent(format!(
                    "unknown engine {other}"
                )));
            }
        };
        let copy_ms = copy_started.elapsed().as_secs_f64() * 1e3;
        Ok::<_, StewardError>((setup_ms, copy_ms, stats))
    });
    match outcome {
        Ok((setup_ms, copy_ms, stats)) => {
            println!(
                "{}",
                json!({
                    "engine": args.engine,
                    "parallelism": args.parallelism,
                    "threads": args.threads,
                    "setup_ms": (setup_ms * 100.0).round() / 100.0,
                    "copy_ms": (copy_ms * 100.0).round() / 100.0,
                    "stats": stats,
                    "peak_rss_kib": peak_rss_kib(),
                })
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("copy-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `copy_image` for a single-platform image without verification: the same requests, the
/// source's body forwarded untouched into the upload.
async fn copy_unverified(
    source: Endpoint<'_>,
    destination: Endpoint<'_>,
    digest: &str,
    tags: &[String],
    options: &CopyOptions,
) -> Result<CopyStats, StewardError> {
    let mut stats = CopyStats::default();
    let manifest = source.registry.manifest(source.repository, digest).await?;
    let document = manifest.parse()?;
    let blobs: Vec<(String, u64)> = document
        .config
        .iter()
        .chain(&document.layers)
        .map(|d| (d.digest.clone(), d.size))
        .collect();
    let copied: Vec<Option<u64>> = stream::iter(blobs)
        .map(|(blob, size)| async move {
            if destination
                .registry
                .has_blob(destination.repository, &blob)
                .await?
            {
                return Ok(None);
            }
            let response = source.registry.get_blob(source.repository, &blob).await?;
            let location = destination
                .registry
                .start_upload(destination.repository)
                .await?;
            let commit_at = destination
                .registry
                .send_upload_data(
                    &location,
                    reqwest::Body::wrap_stream(response.bytes_stream()),
                )
                .await?;
            destination
                .registry
                .finish_upload(&commit_at, &blob)
                .await?;
            Ok::<_, StewardError>(Some(size))
        })
        .buffer_unordered(options.parallelism.max(1))
        .try_collect()
        .await?;
    for bytes in copied {
        match bytes {
            Some(bytes) => {
                stats.blobs_copied += 1;
                stats.bytes_copied += bytes;
            }
            None => stats.blobs_skipped += 1,
        }
    }
    for reference in std::iter::once(digest).chain(tags.iter().map(String::as_str)) {
        destination
            .registry
            .put_manifest(destination.repository, reference, &manifest)
            .await?;
    }
    stats.manifests_copied += 1;
    Ok(stats)
}
