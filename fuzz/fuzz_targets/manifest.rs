//! Any bytes as a registry manifest or index, under each media type: parsed or refused,
//! never a panic; and the digest of any bytes is `sha256:` and 64 lowercase hex.
#![no_main]

use libfuzzer_sys::fuzz_target;
use steward_core::manifest::{
    sha256_digest, RawManifest, DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST,
};

fuzz_target!(|data: &[u8]| {
    let digest = sha256_digest(data);
    assert_eq!(digest.len(), 71);
    assert!(digest.starts_with("sha256:"));
    assert!(digest[7..]
        .bytes()
        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
    // The media type does not change how the bytes are read; it changes what is read next.
    let media_type = [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST]
        [data.first().map_or(0, |b| usize::from(b & 3))];
    let raw = RawManifest {
        bytes: data.to_vec(),
        media_type: media_type.into(),
        digest,
    };
    let _ = raw.is_index();
    let Ok(doc) = raw.parse() else {
        return;
    };
    for descriptor in doc.manifests.iter().chain(&doc.layers).chain(&doc.config) {
        if let Some(platform) = &descriptor.platform {
            let _ = platform.name();
        }
    }
});
