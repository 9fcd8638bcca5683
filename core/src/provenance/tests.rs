//! Provenance on real key material (tests/fixtures/provenance, made with OpenSSL-compatible
//! tooling): signatures are made here with the fixtures' private keys, in cosign's and
//! Notation's formats, and checked by the verifier.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::DecodePrivateKey;
use serde_json::json;

use super::*;

const IMAGE: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const OTHER: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

fn fixture(name: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/provenance/");
    std::fs::read_to_string(format!("{path}{name}")).expect("fixture")
}

fn signing_key(name: &str) -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_pkcs8_pem(&fixture(name)).expect("a P-256 key")
}

fn now() -> Timestamp {
    Timestamp::parse_rfc3339("2026-12-05T10:00:00Z").expect("time")
}

fn rules(yaml: &str) -> ProvenanceRules {
    serde_yaml::from_str(yaml).expect("provenance rules")
}

fn keyed_rules(require: &str) -> ProvenanceRules {
    let pem = fixture("cosign.pub");
    let yaml = format!(
        "require: [{require}]\ncosign_keys:\n  - |\n{}",
        pem.lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    );
    rules(&yaml)
}

fn simple_signing(subject: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "critical": {
            "identity": {"docker-reference": "registry.example/team/app"},
            "image": {"docker-manifest-digest": subject},
            "type": "cosign container image signature"
        },
        "optional": null
    }))
    .expect("json")
}

fn cosign_sig(key: &str, subject: &str) -> Artifact {
    let payload = simple_signing(subject);
    let signature: p256::ecdsa::Signature = signing_key(key).sign(&payload);
    Artifact {
        digest: "sha256:aaaa".into(),
        tag: Some(format!("{}.sig", subject.replacen(':', "-", 1))),
        artifact_type: "application/vnd.oci.image.config.v1+json".into(),
        layers: vec![ArtifactLayer {
            media_type: media::COSIGN_SIMPLE_SIGNING.into(),
            annotations: BTreeMap::from([(
                media::COSIGN_SIGNATURE_ANNOTATION.to_string(),
                STANDARD.encode(signature.to_der().as_bytes()),
            )]),
            body: Some(payload),
        }],
    }
}

fn dsse(key: &str, subject: &str, predicate: &str) -> Artifact {
    let statement = serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": predicate,
        "subject": [{"name": "registry.example/team/app", "digest": {"sha256": subject.trim_start_matches("sha256:")}}],
        "predicate": {}
    }))
    .expect("json");
    let payload_type = "application/vnd.in-toto+json";
    let mut pae = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        statement.len()
    )
    .into_bytes();
    pae.extend_from_slice(&statement);
    let signature: p256::ecdsa::Signature = signing_key(key).sign(&pae);
    let envelope = serde_json::to_vec(&json!({
        "payloadType": payload_type,
        "payload": STANDARD.encode(&statement),
        "signatures": [{"keyid": "", "sig": STANDARD.encode(signature.to_der().as_bytes())}]
    }))
    .expect("json");
    Artifact {
        digest: "sha256:bbbb".into(),
        tag: Some(format!("{}.att", subject.replacen(':', "-", 1))),
        artifact_type: "application/vnd.oci.image.config.v1+json".into(),
        layers: vec![ArtifactLayer {
            media_type: media::DSSE.into(),
            annotations: BTreeMap::from([("predicateType".to_string(), predicate.to_string())]),
            body: Some(envelope),
        }],
    }
}

fn pem_body(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

fn jws(leaf: &str, leaf_key: &str, subject: &str, extra: serde_json::Value) -> Vec<u8> {
    let mut header = json!({
        "alg": "ES256",
        "crit": ["io.cncf.notary.signingScheme"],
        "cty": "application/vnd.cncf.notary.payload.v1+json",
        "io.cncf.notary.signingScheme": "notary.x509",
        "io.cncf.notary.signingTime": "2026-12-05T09:00:00Z"
    });
    if let (Some(header), Some(extra)) = (header.as_object_mut(), extra.as_object()) {
        header.extend(extra.clone());
    }
    let protected = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).expect("json"));
    let payload = URL_SAFE_NO_PAD.encode(
        serde_json::to_vec(&json!({"targetArtifact": {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": subject, "size": 1234}}))
        .expect("json"),
    );
    let signature: p256::ecdsa::Signature =
        signing_key(leaf_key).sign(format!("{protected}.{payload}").as_bytes());
    serde_json::to_vec(&json!({
        "payload": payload,
        "protected": protected,
        "header": {"x5c": [pem_body(&fixture(leaf))], "io.cncf.notary.signingAgent": "notation-go/1.3.0"},
        "signature": URL_SAFE_NO_PAD.encode(signature.to_bytes())
    }))
    .expect("json")
}

fn notation(envelope: Vec<u8>) -> Artifact {
    Artifact {
        digest: "sha256:cccc".into(),
        tag: None,
        artifact_type: media::NOTATION_SIGNATURE.into(),
        layers: vec![ArtifactLayer {
            media_type: media::JWS.into(),
            annotations: BTreeMap::new(),
            body: Some(envelope),
        }],
    }
}

fn trusted_rules() -> ProvenanceRules {
    let root = fixture("notation-root.crt");
    rules(&format!(
        "require: [signature]\nschemes: [notation]\ntrust_store:\n  - |\n{}",
        root.lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    ))
}

fn evidence(artifacts: Vec<Artifact>) -> Evidence {
    Evidence {
        digest: IMAGE.into(),
        artifacts,
        ..Evidence::default()
    }
}

fn only(evidence: Evidence) -> ImageEvidence {
    ImageEvidence {
        image: evidence,
        platforms: Vec::new(),
    }
}

#[test]
fn a_cosign_signature_by_the_rules_key_satisfies_it() {
    let rules = keyed_rules("signature");
    let verdict = judge(
        &only(evidence(vec![cosign_sig("cosign.key", IMAGE)])),
        &rules,
        None,
        now(),
    );
    assert_eq!(verdict.state, ProvenanceState::Satisfied, "{verdict:?}");
    let by = &verdict.images[0].satisfied[&Requirement::Signature];
    assert!(by.contains("verified: sha256:"), "{by}");
}

#[test]
fn a_signature_by_another_key_or_over_other_bytes_does_not() {
    let rules = keyed_rules("signature");
    let stranger = judge(
        &only(evidence(vec![cosign_sig("stranger.key", IMAGE)])),
        &rules,
        None,
        now(),
    );
    assert_eq!(stranger.state, ProvenanceState::Missing);
    assert!(
        stranger.reasons()[0].contains("does not verify with any key"),
        "{:?}",
        stranger.reasons()
    );

    let mut tampered = cosign_sig("cosign.key", IMAGE);
    if let Some(body) = tampered.layers[0].body.as_mut() {
        let at = body.len() / 2;
        body[at] ^= 0x01;
    }
    let verdict = judge(&only(evidence(vec![tampered])), &rules, None, now());
    assert_eq!(verdict.state, ProvenanceState::Missing);

    let elsewhere = judge(
        &only(evidence(vec![cosign_sig("cosign.key", OTHER)])),
        &rules,
        None,
        now(),
    );
    assert_eq!(elsewhere.state, ProvenanceState::Missing);
    assert!(elsewhere.reasons()[0].contains("names another image"));
}

#[test]
fn without_named_signers_an_intact_signature_counts() {
    let rules = rules("require: [signature]");
    let verdict = judge(
        &only(evidence(vec![cosign_sig("stranger.key", IMAGE)])),
        &rules,
        None,
        now(),
    );
    assert_eq!(verdict.state, ProvenanceState::Satisfied);
    let none = judge(&only(evidence(vec![])), &rules, None, now());
    assert_eq!(none.state, ProvenanceState::Missing);
    assert_eq!(none.images[0].missing, vec![Requirement::Signature]);
}

#[test]
fn a_dsse_attestation_with_an_sbom_predicate_is_an_sbom_and_an_attestation() {
    let rules = keyed_rules("sbom, attestation");
    let att = dsse("cosign.key", IMAGE, "https://spdx.dev/Document");
    let verdict = judge(&only(evidence(vec![att])), &rules, None, now());
    assert_eq!(verdict.state, ProvenanceState::Satisfied, "{verdict:?}");

    let stranger = dsse("stranger.key", IMAGE, "https://slsa.dev/provenance/v1");
    let verdict = judge(
        &only(evidence(vec![stranger])),
        &keyed_rules("attestation"),
        None,
        now(),
    );
    assert_eq!(verdict.state, ProvenanceState::Missing);
}

#[test]
fn a_notation_signature_chained_to_the_trust_store_verifies() {
    let rules = trusted_rules();
    let good = notation(jws(
        "notation-leaf.crt",
        "notation-leaf.key",
        IMAGE,
        json!({}),
    ));
    let verdict = judge(&only(evidence(vec![good])), &rules, None, now());
    assert_eq!(verdict.state, ProvenanceState::Satisfied, "{verdict:?}");
    assert!(verdict.images[0].satisfied[&Requirement::Signature].contains("test notation leaf"));
}

#[test]
fn notation_signatures_that_must_not_count() {
    let rules = trusted_rules();
    let cases = [
        (
            "untrusted chain",
            jws("untrusted-leaf.crt", "untrusted-leaf.key", IMAGE, json!({})),
            "no certificate of the trust store",
        ),
        (
            "another image",
            jws("notation-leaf.crt", "notation-leaf.key", OTHER, json!({})),
            "names another image",
        ),
        (
            "unknown critical header",
            jws(
                "notation-leaf.crt",
                "notation-leaf.key",
                IMAGE,
                json!({"crit": ["io.cncf.notary.signingScheme", "x.unknown"], "x.unknown": 1}),
            ),
            "not understood",
        ),
        (
            "expired",
            jws(
                "notation-leaf.crt",
                "notation-leaf.key",
                IMAGE,
                json!({"io.cncf.notary.expiry": "2026-01-01T00:00:00Z"}),
            ),
            "expired",
        ),
        (
            "signed by a key other than the certificate's",
            jws("notation-leaf.crt", "untrusted-leaf.key", IMAGE, json!({})),
            "does not verify with its signing certificate",
        ),
    ];
    for (name, envelope, why) in cases {
        let verdict = judge(
            &only(evidence(vec![notation(envelope)])),
            &rules,
            None,
            now(),
        );
        assert_eq!(verdict.state, ProvenanceState::Missing, "{name}");
        let reasons = verdict.reasons().join("\n");
        assert!(reasons.contains(why), "{name}: {reasons}");
    }
}

#[test]
fn a_signing_profile_must_be_one_the_rule_names() {
    let root = fixture("notation-root.crt");
    let indented: String = root.lines().map(|l| format!("    {l}\n")).collect();
    let rules = rules(&format!(
        "require: [signature]\nsigning_profiles: [\"arn:aws:signer:us-east-1:123456789012:/signing-profiles/releases\"]\ntrust_store:\n  - |\n{indented}"
    ));
    let signed_as = |profile: &str| {
        notation(jws(
            "notation-leaf.crt",
            "notation-leaf.key",
            IMAGE,
            json!({"crit": ["io.cncf.notary.signingScheme", SIGNER], SIGNER: profile}),
        ))
    };
    const SIGNER: &str = verify::SIGNER_PROFILE_VERSION;
    let ours =
        signed_as("arn:aws:signer:us-east-1:123456789012:/signing-profiles/releases/Ab12Cd34");
    assert_eq!(
        judge(&only(evidence(vec![ours])), &rules, None, now()).state,
        ProvenanceState::Satisfied
    );
    let theirs =
        signed_as("arn:aws:signer:us-east-1:123456789012:/signing-profiles/releases-old/Ab12");
    assert_eq!(
        judge(&only(evidence(vec![theirs])), &rules, None, now()).state,
        ProvenanceState::Missing
    );
}

#[test]
fn managed_signing_counts_when_complete_by_a_named_profile() {
    let rules = rules(
        "require: [signature]\nsigning_profiles: [\"arn:aws:signer:us-east-1:123456789012:/signing-profiles/releases\"]",
    );
    let with = |state, profile: &str| {
        only(Evidence {
            digest: IMAGE.into(),
            managed: vec![ManagedSigning {
                profile: profile.into(),
                state,
                reason: None,
            }],
            ..Evidence::default()
        })
    };
    let profile = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/releases";
    assert_eq!(
        judge(&with(SigningState::Complete, profile), &rules, None, now()).state,
        ProvenanceState::Satisfied
    );
    let in_progress = judge(
        &with(SigningState::InProgress, profile),
        &rules,
        None,
        now(),
    );
    assert_eq!(in_progress.state, ProvenanceState::Pending);
    assert!(in_progress.reasons()[0].contains("in progress"));
    assert_eq!(
        judge(&with(SigningState::Failed, profile), &rules, None, now()).state,
        ProvenanceState::Missing
    );
    let other = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/other";
    assert_eq!(
        judge(&with(SigningState::Complete, other), &rules, None, now()).state,
        ProvenanceState::Missing
    );
}

#[test]
fn an_index_needs_each_platform_signed_unless_the_scope_is_the_index() {
    let platform = |digest: &str, name: &str, signed: bool| Evidence {
        digest: digest.into(),
        platform: Some(name.into()),
        artifacts: if signed {
            vec![cosign_sig("cosign.key", digest)]
        } else {
            vec![]
        },
        managed: vec![],
    };
    let index = |amd: bool, arm: bool| ImageEvidence {
        image: evidence(vec![cosign_sig("cosign.key", IMAGE)]),
        platforms: vec![
            platform(OTHER, "linux/amd64", amd),
            platform(&IMAGE.replace('1', "3"), "linux/arm64", arm),
        ],
    };
    let each = keyed_rules("signature");
    assert_eq!(
        judge(&index(true, true), &each, None, now()).state,
        ProvenanceState::Satisfied
    );
    let half = judge(&index(true, false), &each, None, now());
    assert_eq!(half.state, ProvenanceState::Missing);
    assert!(
        half.reasons()[0].starts_with("linux/arm64 (sha256:3333"),
        "{:?}",
        half.reasons()
    );

    let mut index_only = keyed_rules("signature");
    index_only.scope = Scope::Index;
    assert_eq!(
        judge(&index(false, false), &index_only, None, now()).state,
        ProvenanceState::Satisfied
    );
}

#[test]
fn within_the_grace_period_a_missing_signature_is_awaited() {
    let mut rules = keyed_rules("signature");
    rules.grace_seconds = 600;
    let pushed = Timestamp(now().0 - 60);
    let verdict = judge(&only(evidence(vec![])), &rules, Some(pushed), now());
    assert_eq!(verdict.state, ProvenanceState::Pending);
    assert_eq!(
        verdict.awaited_until.as_deref(),
        Some("2026-12-05T10:09:00Z")
    );
    let late = judge(
        &only(evidence(vec![])),
        &rules,
        Some(Timestamp(now().0 - 601)),
        now(),
    );
    assert_eq!(late.state, ProvenanceState::Missing);
    let signed = judge(
        &only(evidence(vec![cosign_sig("cosign.key", IMAGE)])),
        &rules,
        Some(pushed),
        now(),
    );
    assert_eq!(signed.state, ProvenanceState::Satisfied);
    assert_eq!(signed.awaited_until, None);
}

#[test]
fn attached_sboms_and_buildx_attestations_are_found() {
    let sbom = Artifact {
        digest: "sha256:dddd".into(),
        artifact_type: "application/spdx+json".into(),
        ..Artifact::default()
    };
    let buildx = Artifact {
        digest: "sha256:eeee".into(),
        artifact_type: "application/vnd.oci.image.config.v1+json".into(),
        layers: vec![ArtifactLayer {
            media_type: media::IN_TOTO.into(),
            annotations: BTreeMap::from([(
                media::PREDICATE_TYPE_ANNOTATION.to_string(),
                "https://slsa.dev/provenance/v0.2".to_string(),
            )]),
            body: None,
        }],
        ..Artifact::default()
    };
    let open = rules("require: [sbom, attestation]");
    assert_eq!(
        judge(
            &only(evidence(vec![sbom.clone(), buildx.clone()])),
            &open,
            None,
            now()
        )
        .state,
        ProvenanceState::Satisfied
    );
    // With keys named, an unsigned attestation does not count; an SBOM's presence does.
    let keyed = judge(
        &only(evidence(vec![sbom, buildx])),
        &keyed_rules("sbom, attestation"),
        None,
        now(),
    );
    assert_eq!(keyed.images[0].missing, vec![Requirement::Attestation]);
}

#[test]
fn the_section_reads_as_documented_and_refuses_mistakes() {
    let loaded = rules("tags: [semver, \"release-*\"]\nrequire: [signature]\nscope: index\nschemes: [cosign]\ngrace: 10m");
    assert!(
        loaded.applies_to("1.2.3") && loaded.applies_to("v1.2.3") && loaded.applies_to("release-7")
    );
    assert!(!loaded.applies_to("latest"));
    assert_eq!(loaded.grace_seconds, 600);
    let refuse = |yaml: &str, hint: &str| {
        let error = serde_yaml::from_str::<ProvenanceRules>(yaml)
            .expect_err(yaml)
            .to_string();
        assert!(error.contains(hint), "{yaml}: {error}");
    };
    refuse("require: []", "list what the images need");
    refuse(
        "require: [signature]\ngrace: 3 days",
        "a duration up to a day",
    );
    refuse(
        "require: [signature]\ncosign_keys: [\"hello\"]",
        "BEGIN PUBLIC KEY",
    );
    refuse(
        &format!(
            "require: [signature]\ncosign_keys:\n  - |\n{}",
            fixture("cosign.key")
                .lines()
                .map(|l| format!("    {l}\n"))
                .collect::<String>()
        ),
        "never the private one",
    );
    refuse(
        "require: [signature]\ncosign_keys: [\"awskms:///arn:aws:kms:us-east-1:123456789012:key/1234\"]",
        "cosign public-key --key awskms:///",
    );
    refuse(
        "require: [signature]\ntrust_store: [\"x\"]",
        "BEGIN CERTIFICATE",
    );
    refuse(
        "require: [signature]\nsigning_profiles: [releases]",
        "arn:aws:signer",
    );
    refuse("require: [signature]\ntags: [\"v/1\"]", "no tag can match");
    refuse("require: [signed]", "signature");
}

/// Real signatures that cosign, Notation and sigstore made, kept as data
/// (tests/fixtures/provenance/upstream, SOURCES.md says where each is from).
mod upstream {
    use super::*;

    fn read(name: &str) -> Vec<u8> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/provenance/upstream/"
        );
        std::fs::read(format!("{path}{name}")).expect("upstream vector")
    }

    fn at(time: &str) -> Timestamp {
        Timestamp::parse_rfc3339(time).expect("time")
    }

    /// The x5c chain of a JWS envelope, as certificates.
    fn x5c(envelope: &[u8]) -> Vec<verify::Certificate> {
        let envelope: serde_json::Value = serde_json::from_slice(envelope).expect("JSON");
        envelope["header"]["x5c"]
            .as_array()
            .expect("x5c")
            .iter()
            .map(|c| {
                let der = STANDARD.decode(c.as_str().expect("text")).expect("base64");
                verify::Certificate::from_der(&der).expect("certificate")
            })
            .collect()
    }

    #[test]
    fn a_cosign_simple_signing_signature_from_sigstore_rs_verifies() {
        let payload = read("sigstore-rs-simplesigning.payload.json");
        let signature = String::from_utf8(read("sigstore-rs-simplesigning.sig.b64")).expect("text");
        let key =
            PublicKey::from_pem(&String::from_utf8(read("sigstore-rs-cosign.pub")).expect("pem"))
                .expect("key");
        let subject = "sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b";
        let signed = verify::cosign_simple_signing(
            &payload,
            &signature,
            subject,
            std::slice::from_ref(&key),
        )
        .expect("valid");
        assert_eq!(signed.verified_by, Some(key.fingerprint()));
        let stranger = PublicKey::from_pem(&fixture("stranger.pub")).expect("key");
        assert!(verify::cosign_simple_signing(&payload, &signature, subject, &[stranger]).is_err());
        let mut tampered = payload.clone();
        let at = tampered.len() - 3;
        tampered[at] ^= 0x20;
        assert!(verify::cosign_simple_signing(&tampered, &signature, subject, &[key]).is_err());
    }

    #[test]
    fn notation_jws_envelopes_from_notation_go_verify() {
        // Notation 1.0's own output: PS256, a self-signed certificate as its trust store.
        let envelope = read("notation-go-jws_signature.sig");
        let chain = x5c(&envelope);
        let subject = "sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0";
        let signed =
            verify::notation_jws(&envelope, subject, &chain[..1], at("2026-12-05T00:00:00Z"))
                .expect("valid");
        assert_eq!(signed.verified_by.as_deref(), Some("alpine"));
        let stranger =
            verify::Certificate::all_from_pem(&fixture("notation-root.crt")).expect("pem");
        assert!(
            verify::notation_jws(&envelope, subject, &stranger, at("2026-12-05T00:00:00Z"))
                .is_err()
        );

        // notation-go's mocks: PS384 with a two-certificate chain; the same with the signature
        // altered; the signing-authority scheme with its authentic signing time.
        let subject = "sha256:60043cf45eaebc4c0867fea485a039b598f52fd09fd5b07b0b2d2f88fad9d74e";
        let signed_at = at("2020-11-09T07:00:00Z");
        for (name, valid) in [
            ("notation-go-ca_valid_sig_env.json", true),
            ("notation-go-ca_invalid_sig_env.json", false),
            ("notation-go-sa_valid_sig_env.json", true),
        ] {
            let envelope = read(name);
            let chain = x5c(&envelope);
            let root = &chain[chain.len() - 1..];
            let result = verify::notation_jws(&envelope, subject, root, signed_at);
            assert_eq!(result.is_ok(), valid, "{name}: {result:?}");
        }
    }

    #[test]
    fn dsse_envelopes_of_real_sigstore_bundles_verify_with_their_certificates_key() {
        for (name, subject) in [
            (
                "cosign-oci-attestation.sigstore.json",
                "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4",
            ),
            (
                "sigstore-rs-bundle_v03.json",
                "sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172",
            ),
        ] {
            let bundle: serde_json::Value = serde_json::from_slice(&read(name)).expect("JSON");
            let material = &bundle["verificationMaterial"];
            let raw = material["certificate"]["rawBytes"]
                .as_str()
                .or_else(|| {
                    material["x509CertificateChain"]["certificates"][0]["rawBytes"].as_str()
                })
                .expect("the signing certificate");
            let certificate = verify::Certificate::from_der(&STANDARD.decode(raw).expect("base64"))
                .expect("certificate");
            let envelope = serde_json::to_vec(&bundle["dsseEnvelope"]).expect("JSON");
            let key = certificate.key().clone();
            let signed = verify::dsse_attestation(&envelope, subject, &[key]).expect(name);
            assert!(signed.verified_by.is_some(), "{name}");
            assert!(
                verify::dsse_attestation(&envelope, OTHER, &[]).is_err(),
                "{name}"
            );
        }
    }
}
