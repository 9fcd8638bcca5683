//! `throttle-proxy`: the test bed's fault proxy in front of one registry, limiting one kind of
//! request per second as ECR limits an API action (over the rate: `429 TOOMANYREQUESTS`), for
//! `bench/copy/rtt --backfill`.
//!
//! ```sh
//! throttle-proxy --upstream https://127.0.0.1:5001 --ca DIR/ca.pem --rate 10
//! ```
//!
//! Prints the proxy's URL (plain HTTP) on its first line, then every second a line
//! `requests N throttled M` (manifest PUTs answered, of them throttled), until killed.

// A test-bed tool, not production code: a failure should stop it loudly, so it may unwrap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use testbed::{FaultProxy, RateLimit};

#[derive(Debug, Parser)]
#[command(about = "A proxy that throttles a registry's manifest PUTs")]
struct Args {
    /// The registry: http://HOST:PORT, or https://HOST:PORT with --ca.
    #[arg(long)]
    upstream: String,
    /// The CA certificate (PEM) an https upstream chains to.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Manifest PUTs allowed per second (ECR's PutImage quota is 10).
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
}

fn main() {
    let args = Args::parse();
    let proxy = match &args.ca {
        Some(ca) => FaultProxy::start_trusting(&args.upstream, ca),
        None => FaultProxy::start(&args.upstream),
    }
    .expect("start the proxy");
    proxy.limit_rate(RateLimit {
        method: "PUT",
        path: "/manifests/",
        per_second: args.rate,
    });
    let mut out = std::io::stdout();
    writeln!(out, "{}", proxy.url()).unwrap();
    out.flush().unwrap();
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let requests = proxy.take_requests();
        let puts = requests
            .iter()
            .filter(|r| r.method == "PUT" && r.path().contains("/manifests/"));
        let (all, throttled) = puts.fold((0, 0), |(all, throttled), r| {
            (all + 1, throttled + usize::from(r.status == Some(429)))
        });
        writeln!(out, "requests {all} throttled {throttled}").unwrap();
        out.flush().unwrap();
    }
}
