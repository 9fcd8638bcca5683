//! The HTTP client over real TLS: moto served over HTTPS with a certificate from a private CA
//! made here (openssl), reached by the AWS SDK on `steward::http`.
//!
//! - With the functions' bundled roots, the private CA is not trusted: the handshake fails and
//!   the error is classified (no panic, nothing sent).
//! - With `SSL_CERT_FILE` naming the CA, `TrustRoots::for_lambda()` switches to the system
//!   store and the same calls succeed.
//!
//! One test in this binary, because it sets `SSL_CERT_FILE` (and clears `SSL_CERT_DIR`) for
//! the process.

// An integration test: a failed step is a failed test, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use steward::aws::classify;
use steward::error::Service;
use steward::http::{SdkHttpClient, TrustRoots};
use testbed::Stack;

const REGION: &str = "us-east-1";

/// A CA, and a certificate for 127.0.0.1 and localhost signed by it.
fn private_ca(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = dir.join("ca.key");
    let ca = dir.join("ca.pem");
    let key = dir.join("server.key");
    let csr = dir.join("server.csr");
    let cert = dir.join("server.pem");
    let extensions = dir.join("server.ext");
    std::fs::write(
        &extensions,
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
         extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .expect("write the extensions");
    let steps: [&[&str]; 3] = [
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=ecr-steward test CA",
            "-keyout",
            path(&ca_key),
            "-out",
            path(&ca),
        ],
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            path(&key),
            "-out",
            path(&csr),
        ],
        &[
            "x509",
            "-req",
            "-in",
            path(&csr),
            "-CA",
            path(&ca),
            "-CAkey",
            path(&ca_key),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            path(&extensions),
            "-out",
            path(&cert),
        ],
    ];
    for args in steps {
        let output = Command::new("openssl")
            .args(args)
            .output()
            .expect("run openssl");
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    (ca, cert, key)
}

fn path(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// moto over HTTPS; killed on drop.
struct TlsMoto {
    child: Child,
    endpoint: String,
}

impl TlsMoto {
    fn start(python: &str, cert: &Path, key: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let moto = Path::new(python).with_file_name("moto_server");
        let child = Command::new(moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .args(["-c", path(cert), "-k", path(key)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto over TLS did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            endpoint: format!("https://localhost:{port}"),
        }
    }
}

impl Drop for TlsMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sdk(stack: &Stack, roots: TrustRoots, endpoint: &str) -> SdkConfig {
    let http = steward::http::client(roots).expect("an HTTP client");
    stack
        .sdk_config(REGION)
        .to_builder()
        .http_client(SdkHttpClient::shared(http))
        .endpoint_url(endpoint)
        .build()
}

#[tokio::test]
async fn a_private_ca_is_trusted_only_when_ssl_cert_file_names_it() {
    let stack = Stack::start();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (ca, cert, key) = private_ca(dir.path());
    let moto = TlsMoto::start(stack.python(), &cert, &key);

    // The only test in this process, so no other test sees the environment change.
    std::env::remove_var("SSL_CERT_FILE");
    std::env::remove_var("SSL_CERT_DIR");
    assert_eq!(TrustRoots::for_lambda(), TrustRoots::Bundled);
    let untrusted = aws_sdk_ecr::Client::new(&sdk(&stack, TrustRoots::Bundled, &moto.endpoint));
    let error = untrusted
        .create_repository()
        .repository_name("team/app")
        .send()
        .await
        .expect_err("the private CA is not among the bundled roots");
    let error = classify(Service::Ecr, error);
    assert_eq!(error.error_type(), "Retryable.Unavailable", "{error}");
    assert!(
        error
            .to_string()
            .contains("invalid peer certificate: UnknownIssuer"),
        "{error}"
    );

    std::env::set_var("SSL_CERT_FILE", &ca);
    let roots = TrustRoots::for_lambda();
    assert_eq!(roots, TrustRoots::System);
    let trusted = aws_sdk_ecr::Client::new(&sdk(&stack, roots, &moto.endpoint));
    trusted
        .create_repository()
        .repository_name("team/app")
        .send()
        .await
        .expect("CreateRepository over TLS");
    let listed = trusted
        .describe_repositories()
        .send()
        .await
        .expect("DescribeRepositories over TLS");
    let names: Vec<_> = listed
        .repositories()
        .iter()
        .filter_map(|repository| repository.repository_name())
        .collect();
    assert_eq!(names, ["team/app"], "only the trusted call reached moto");
}
