//! The test bed's ECR-like data plane answers as ECR's does, and the registry client meets it
//! as it meets ECR: HTTPS on HTTP/2 with the stack's private CA, `Basic` credentials from
//! GetAuthorizationToken (a missing or wrong token refused), and blob reads redirected to a
//! pre-signed URL on another host, where the `Authorization` header does not follow.

// An integration test: a failed step is a failed test, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use steward::aws::Registries;
use steward::oci::registry::RegistryClient;
use testbed::{PushSpec, Stack};

const REGION: &str = "us-east-1";

/// The config blob's digest of a single-platform image, read with the stack's credentials.
async fn config_of(stack: &Stack, image: &testbed::PushedImage) -> String {
    let raw = stack
        .registry_client(stack.registry(REGION))
        .manifest(&image.repository, &image.digest)
        .await
        .expect("the manifest");
    let manifest: serde_json::Value = serde_json::from_slice(&raw.bytes).unwrap();
    manifest["config"]["digest"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_registry_answers_as_ecr_does() {
    let stack = Stack::start();
    let image = stack.push_image(&PushSpec::new(REGION, "data/plane").tag("1.0.0"));
    let config = config_of(&stack, &image).await;
    let http = stack.http();
    let registry = stack.registry(REGION);
    assert!(registry.starts_with("https://127.0.0.1:"), "{registry}");

    {
        // No credentials: refused, with ECR's Basic challenge.
        let anonymous = http.get(format!("{registry}/v2/")).send().await.unwrap();
        assert_eq!(anonymous.status(), 401);
        let challenge = anonymous.headers()["www-authenticate"].to_str().unwrap();
        assert!(challenge.starts_with("Basic realm="), "{challenge}");
        assert_eq!(anonymous.version(), reqwest::Version::HTTP_2);

        // A blob GET is a redirect to a pre-signed URL on moto's S3, another host.
        let redirected = http
            .get(format!("{registry}/v2/data/plane/blobs/{config}"))
            .header("Authorization", stack.registry_authorization().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(redirected.status(), 307);
        let location = redirected.headers()["location"].to_str().unwrap();
        assert!(location.starts_with(stack.endpoint()), "{location}");
        assert!(location.contains("X-Amz-Signature="), "{location}");
    }
}

#[tokio::test]
async fn the_registry_client_reads_with_the_token_ecr_gives_and_is_refused_without_it() {
    let stack = Stack::start();
    let image = stack.push_image(&PushSpec::new(REGION, "data/token").tag("1.0.0"));

    // The product's path: GetAuthorizationToken from moto, then the registry.
    let overrides = BTreeMap::from([(REGION.to_string(), stack.registry(REGION).to_string())]);
    let registries = Registries::new(&stack.sdk_config(REGION), stack.http(), overrides);
    let client = registries.client(REGION).await.expect("a registry client");
    let manifest = client
        .manifest("data/token", &image.digest)
        .await
        .expect("the manifest, read with moto's token");
    assert_eq!(manifest.digest, image.digest);
    let config = config_of(&stack, &image).await;
    let bytes = client
        .get_blob("data/token", &config)
        .await
        .expect("the config blob, through the redirect")
        .bytes()
        .await
        .unwrap();
    assert_eq!(steward::manifest::sha256_digest(&bytes), config);

    for (what, authorization) in [
        ("no token", None),
        (
            "a wrong token",
            Some("Basic QVdTOm5vdC10aGUtcGFzc3dvcmQ=".to_string()),
        ),
    ] {
        let refused = RegistryClient::new(stack.http(), stack.registry(REGION), authorization)
            .manifest("data/token", &image.digest)
            .await
            .expect_err(what);
        assert!(!refused.is_retryable(), "{what}: {refused:?}");
        assert!(refused.to_string().contains("401"), "{what}: {refused}");
    }
}

/// One HTTP/1.1 exchange per connection: answers `answer` and records the request's head.
fn one_shot_server(answer: String) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let heads = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&heads);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            recorded.lock().unwrap().push(head);
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    (url, heads)
}

#[tokio::test]
async fn the_authorization_header_does_not_follow_a_redirect_to_storage() {
    let body = "blob bytes";
    let (storage, storage_heads) = one_shot_server(format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    let (registry, registry_heads) = one_shot_server(format!(
        "HTTP/1.1 307 Temporary Redirect\r\nLocation: {storage}/presigned?X-Amz-Signature=abc\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    ));
    let client = RegistryClient::new(
        steward::http::client(steward::http::TrustRoots::Bundled).unwrap(),
        &registry,
        Some("Basic c2VjcmV0".into()),
    );
    let read = client
        .get_blob("app", "sha256:abc")
        .await
        .expect("the blob, from storage")
        .text()
        .await
        .unwrap();
    assert_eq!(read, body);
    let to_registry = registry_heads.lock().unwrap().join("");
    let to_storage = storage_heads.lock().unwrap().join("");
    assert!(
        to_registry
            .to_lowercase()
            .contains("authorization: basic c2vjcmv0"),
        "{to_registry}"
    );
    assert!(
        to_storage.starts_with("GET /presigned?X-Amz-Signature=abc"),
        "{to_storage}"
    );
    assert!(
        !to_storage.to_lowercase().contains("authorization"),
        "{to_storage}"
    );
}
