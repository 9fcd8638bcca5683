//! Signature checks for provenance: public keys and certificates read from PEM, cosign's
//! simple-signing and DSSE signatures, Notation's JWS envelopes and their X.509 chains.
//!
//! RustCrypto's crates verify (p256, p384, rsa, x509-cert); this module only decides what is
//! signed (the payload, DSSE's pre-authentication encoding, JWS's signing input) and with which
//! hash, as the formats define it. Nothing here signs or holds a private key.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::pkcs8::DecodePublicKey;
use serde_json::Value;
use sha2::{Digest as _, Sha256, Sha384, Sha512};
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::{Decode, DecodePem, Encode};

use crate::timestamp::Timestamp;

const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const RSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const RSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const RSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const EXTENDED_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");

/// The hash a signature was made over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl Hash {
    fn of(self, message: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => Sha256::digest(message).to_vec(),
            Hash::Sha384 => Sha384::digest(message).to_vec(),
            Hash::Sha512 => Sha512::digest(message).to_vec(),
        }
    }
}

/// How the signature's bytes are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// ECDSA as ASN.1 DER (cosign, X.509), RSA as PKCS#1 v1.5.
    Der,
    /// ECDSA as fixed-size `r || s` (JWS `ES*`), RSA as PKCS#1 v1.5 (JWS `RS*`).
    Fixed,
    /// RSA as PSS (JWS `PS*`); not an ECDSA encoding.
    Pss,
}

/// A public key a signature can be checked with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicKey {
    /// ECDSA on NIST P-256.
    P256(p256::ecdsa::VerifyingKey),
    /// ECDSA on NIST P-384.
    P384(p384::ecdsa::VerifyingKey),
    /// RSA.
    Rsa(rsa::RsaPublicKey),
}

/// Why a key, a certificate or a signature could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(pub String);

impl PublicKey {
    /// A key from PEM, as `cosign generate-key-pair` writes `cosign.pub` (`PUBLIC KEY`, an
    /// X.509 SubjectPublicKeyInfo): ECDSA P-256 or P-384, or RSA.
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        if text.starts_with("awskms://") || text.starts_with("arn:aws") {
            return Err(KeyError(format!(
                "{text:?} is a KMS key reference; the policy takes the public key itself, as PEM: `cosign public-key --key awskms:///<key ARN>` prints it (so does `aws kms get-public-key`, as DER)"
            )));
        }
        if text.contains("PRIVATE KEY") {
            return Err(KeyError(
                "this is a private key; hint: give the public key (cosign.pub), never the private one".into(),
            ));
        }
        if !text.starts_with("-----BEGIN PUBLIC KEY-----") {
            return Err(KeyError(
                "not a PEM public key; hint: it starts with -----BEGIN PUBLIC KEY----- (cosign.pub)"
                    .into(),
            ));
        }
        let body: String = text
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .map(str::trim)
            .collect();
        let der = STANDARD
            .decode(body)
            .map_err(|_| KeyError("the PEM public key is not valid base64".into()))?;
        Self::from_spki_der(&der)
    }

    /// A key from a DER SubjectPublicKeyInfo (PEM's body; KMS's `GetPublicKey` answer).
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        if let Ok(key) = p256::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(Self::P256(key));
        }
        if let Ok(key) = p384::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(Self::P384(key));
        }
        if let Ok(key) = rsa::RsaPublicKey::from_public_key_der(der) {
            return Ok(Self::Rsa(key));
        }
        Err(KeyError(
            "not an ECDSA P-256, P-384 or RSA public key".into(),
        ))
    }

    /// What reports call the key: `sha256:` and the first 16 hex digits of its DER's digest.
    pub fn fingerprint(&self) -> String {
        let der =
            match self {
                Self::P256(key) => p256::pkcs8::EncodePublicKey::to_public_key_der(key)
                    .map(|d| d.as_bytes().to_vec()),
                Self::P384(key) => p384::pkcs8::EncodePublicKey::to_public_key_der(key)
                    .map(|d| d.as_bytes().to_vec()),
                Self::Rsa(key) => rsa::pkcs8::EncodePublicKey::to_public_key_der(key)
                    .map(|d| d.as_bytes().to_vec()),
            }
            .unwrap_or_default();
        let hex = crate::manifest::lower_hex(&Sha256::digest(der));
        format!("sha256:{}", &hex[..16])
    }

    /// True when `signature` is this key's over `message` hashed with `hash`.
    pub fn verifies(
        &self,
        hash: Hash,
        encoding: Encoding,
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        let digest = hash.of(message);
        match self {
            Self::P256(key) => {
                let signature = match encoding {
                    Encoding::Der => p256::ecdsa::Signature::from_der(signature),
                    Encoding::Fixed => p256::ecdsa::Signature::from_slice(signature),
                    Encoding::Pss => return false,
                };
                signature.is_ok_and(|s| key.verify_prehash(&digest, &s).is_ok())
            }
            Self::P384(key) => {
                let signature = match encoding {
                    Encoding::Der => p384::ecdsa::Signature::from_der(signature),
                    Encoding::Fixed => p384::ecdsa::Signature::from_slice(signature),
                    Encoding::Pss => return false,
                };
                signature.is_ok_and(|s| key.verify_prehash(&digest, &s).is_ok())
            }
            Self::Rsa(key) => match (encoding, hash) {
                (Encoding::Pss, Hash::Sha256) => rsa_pss::<Sha256>(key, &digest, signature),
                (Encoding::Pss, Hash::Sha384) => rsa_pss::<Sha384>(key, &digest, signature),
                (Encoding::Pss, Hash::Sha512) => rsa_pss::<Sha512>(key, &digest, signature),
                (_, Hash::Sha256) => rsa_pkcs1::<Sha256>(key, &digest, signature),
                (_, Hash::Sha384) => rsa_pkcs1::<Sha384>(key, &digest, signature),
                (_, Hash::Sha512) => rsa_pkcs1::<Sha512>(key, &digest, signature),
            },
        }
    }
}

fn rsa_pkcs1<D>(key: &rsa::RsaPublicKey, digest: &[u8], signature: &[u8]) -> bool
where
    D: sha2::Digest + rsa::pkcs8::AssociatedOid,
{
    let verifier = rsa::pkcs1v15::VerifyingKey::<D>::new(key.clone());
    rsa::pkcs1v15::Signature::try_from(signature)
        .is_ok_and(|s| verifier.verify_prehash(digest, &s).is_ok())
}

fn rsa_pss<D>(key: &rsa::RsaPublicKey, digest: &[u8], signature: &[u8]) -> bool
where
    D: sha2::Digest + sha2::digest::FixedOutputReset,
{
    let verifier = rsa::pss::VerifyingKey::<D>::new(key.clone());
    rsa::pss::Signature::try_from(signature)
        .is_ok_and(|s| verifier.verify_prehash(digest, &s).is_ok())
}

/// An X.509 certificate: its DER, its parsed form and its key.
#[derive(Clone, Debug)]
pub struct Certificate {
    der: Vec<u8>,
    parsed: x509_cert::Certificate,
    key: PublicKey,
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Eq for Certificate {}

impl Certificate {
    /// One certificate from DER.
    pub fn from_der(der: &[u8]) -> Result<Self, KeyError> {
        let parsed = x509_cert::Certificate::from_der(der)
            .map_err(|e| KeyError(format!("not an X.509 certificate: {e}")))?;
        let spki = parsed
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| KeyError(format!("the certificate's key: {e}")))?;
        let key = PublicKey::from_spki_der(&spki)?;
        Ok(Self {
            der: der.to_vec(),
            parsed,
            key,
        })
    }

    /// Every certificate in PEM text (a trust store file may hold several).
    pub fn all_from_pem(text: &str) -> Result<Vec<Self>, KeyError> {
        let mut certificates = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
            let end_marker = "-----END CERTIFICATE-----";
            let Some(end) = rest[start..].find(end_marker) else {
                return Err(KeyError("a certificate has no END CERTIFICATE line".into()));
            };
            let block = &rest[start..start + end + end_marker.len()];
            let parsed = x509_cert::Certificate::from_pem(block.as_bytes())
                .map_err(|e| KeyError(format!("not an X.509 certificate: {e}")))?;
            let der = parsed
                .to_der()
                .map_err(|e| KeyError(format!("the certificate: {e}")))?;
            certificates.push(Self::from_der(&der)?);
            rest = &rest[start + end + end_marker.len()..];
        }
        if certificates.is_empty() {
            return Err(KeyError(
                "no certificate; hint: a trust store entry is PEM, -----BEGIN CERTIFICATE-----"
                    .into(),
            ));
        }
        Ok(certificates)
    }

    /// The subject's common name, or the whole subject when it has none.
    pub fn subject(&self) -> String {
        let subject = &self.parsed.tbs_certificate.subject;
        for rdn in subject.0.iter() {
            for attribute in rdn.0.iter() {
                if attribute.oid == COMMON_NAME {
                    if let Ok(text) = std::str::from_utf8(attribute.value.value()) {
                        return text.to_string();
                    }
                }
            }
        }
        subject.to_string()
    }

    /// The certificate's key.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    fn valid_at(&self, at: Timestamp) -> bool {
        let validity = &self.parsed.tbs_certificate.validity;
        let seconds = |time: x509_cert::time::Time| {
            i64::try_from(time.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
        };
        seconds(validity.not_before) <= at.0 && at.0 <= seconds(validity.not_after)
    }

    fn extension(&self, oid: ObjectIdentifier) -> Option<&[u8]> {
        self.parsed
            .tbs_certificate
            .extensions
            .as_ref()?
            .iter()
            .find(|e| e.extn_id == oid)
            .map(|e| e.extn_value.as_bytes())
    }

    fn is_ca(&self) -> bool {
        self.extension(BASIC_CONSTRAINTS)
            .and_then(|der| x509_cert::ext::pkix::BasicConstraints::from_der(der).ok())
            .is_some_and(|bc| bc.ca)
    }

    /// True when the certificate may sign code: no extended key usage, or one with codeSigning.
    fn may_sign_code(&self) -> bool {
        match self.extension(EXTENDED_KEY_USAGE) {
            None => true,
            Some(der) => x509_cert::ext::pkix::ExtendedKeyUsage::from_der(der)
                .is_ok_and(|usage| usage.0.contains(&CODE_SIGNING)),
        }
    }

    /// True when `issuer` names and signed this certificate.
    fn issued_by(&self, issuer: &Certificate) -> bool {
        if self.parsed.tbs_certificate.issuer != issuer.parsed.tbs_certificate.subject {
            return false;
        }
        let Ok(tbs) = self.parsed.tbs_certificate.to_der() else {
            return false;
        };
        let signature = self.parsed.signature.raw_bytes();
        let algorithm = self.parsed.signature_algorithm.oid;
        let hash = match algorithm {
            a if a == ECDSA_SHA256 || a == RSA_SHA256 => Hash::Sha256,
            a if a == ECDSA_SHA384 || a == RSA_SHA384 => Hash::Sha384,
            a if a == ECDSA_SHA512 || a == RSA_SHA512 => Hash::Sha512,
            _ => return false,
        };
        issuer.key.verifies(hash, Encoding::Der, &tbs, signature)
    }
}

/// Checks `chain` (leaf first, as JWS's `x5c` lists it) up to a certificate of `trust_store`,
/// every certificate valid `at`; the trusted certificate's subject.
pub fn verify_chain(
    chain: &[Certificate],
    trust_store: &[Certificate],
    at: Timestamp,
) -> Result<String, String> {
    let Some(leaf) = chain.first() else {
        return Err("the signature carries no certificate".into());
    };
    if !leaf.may_sign_code() {
        return Err(format!(
            "the signing certificate {:?} is not for code signing",
            leaf.subject()
        ));
    }
    for certificate in chain {
        if !certificate.valid_at(at) {
            return Err(format!(
                "the certificate {:?} is not valid at the signing time",
                certificate.subject()
            ));
        }
    }
    for pair in chain.windows(2) {
        if !pair[1].is_ca() || !pair[0].issued_by(&pair[1]) {
            return Err(format!(
                "the certificate {:?} is not issued by the next one in the chain, {:?}",
                pair[0].subject(),
                pair[1].subject()
            ));
        }
    }
    let last = &chain[chain.len() - 1];
    for anchor in trust_store {
        if anchor == last || (anchor.is_ca() && anchor.valid_at(at) && last.issued_by(anchor)) {
            return Ok(anchor.subject());
        }
    }
    Err(format!(
        "no certificate of the trust store issued {:?}",
        last.subject()
    ))
}

/// What a signature over an image's payload said, once read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// Who signed, as far as the signature shows it: a key's fingerprint, a certificate's
    /// subject; `None` when no key or trust store was given to check it against.
    pub verified_by: Option<String>,
    /// For a DSSE attestation: its predicate type.
    pub predicate_type: Option<String>,
    /// For a Notation signature by AWS Signer: the signing profile (version) ARN it names.
    pub signing_profile: Option<String>,
}

/// Checks a cosign simple-signing signature: `payload` (the layer's bytes) must name `subject`,
/// and with `keys` given, `signature_b64` (the `dev.cosignproject.cosign/signature`
/// annotation) must be one key's ECDSA or RSA signature over it. cosign hashes with SHA-256
/// whatever the key.
pub fn cosign_simple_signing(
    payload: &[u8],
    signature_b64: &str,
    subject: &str,
    keys: &[PublicKey],
) -> Result<Signed, String> {
    let document: Value = serde_json::from_slice(payload)
        .map_err(|_| "the signed payload is not JSON".to_string())?;
    let named = document
        .pointer("/critical/image/docker-manifest-digest")
        .and_then(Value::as_str)
        .ok_or("the signed payload names no image digest")?;
    if named != subject {
        return Err(format!("the signed payload names another image, {named}"));
    }
    let verified_by = if keys.is_empty() {
        None
    } else {
        let signature = STANDARD
            .decode(signature_b64.trim())
            .map_err(|_| "the signature is not base64".to_string())?;
        Some(
            keys.iter()
                .find(|key| key.verifies(Hash::Sha256, Encoding::Der, payload, &signature))
                .map(PublicKey::fingerprint)
                .ok_or("the signature does not verify with any key of the rule")?,
        )
    };
    Ok(Signed {
        verified_by,
        predicate_type: None,
        signing_profile: None,
    })
}

/// DSSE's pre-authentication encoding: what a DSSE signature signs.
fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// Checks a DSSE envelope holding an in-toto statement (cosign's attestations): the statement
/// must name `subject`, and with `keys` given, one signature must verify over the envelope's
/// pre-authentication encoding.
pub fn dsse_attestation(
    envelope: &[u8],
    subject: &str,
    keys: &[PublicKey],
) -> Result<Signed, String> {
    let envelope: Value = serde_json::from_slice(envelope)
        .map_err(|_| "the attestation is not a DSSE envelope (JSON)".to_string())?;
    let payload_type = envelope["payloadType"]
        .as_str()
        .ok_or("the DSSE envelope has no payloadType")?;
    let payload = envelope["payload"]
        .as_str()
        .and_then(|p| STANDARD.decode(p).ok())
        .ok_or("the DSSE envelope's payload is not base64")?;
    let statement: Value = serde_json::from_slice(&payload)
        .map_err(|_| "the attestation's statement is not JSON".to_string())?;
    let hex = subject.strip_prefix("sha256:").unwrap_or(subject);
    let names_subject = statement["subject"].as_array().is_some_and(|subjects| {
        subjects
            .iter()
            .any(|s| s["digest"]["sha256"].as_str() == Some(hex))
    });
    if !names_subject {
        return Err("the attestation's statement does not name this image".into());
    }
    let predicate_type = statement["predicateType"].as_str().map(str::to_string);
    let verified_by = if keys.is_empty() {
        None
    } else {
        let message = pae(payload_type, &payload);
        let signatures: Vec<Vec<u8>> = envelope["signatures"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter_map(|s| s["sig"].as_str())
                    .filter_map(|s| STANDARD.decode(s).ok())
                    .collect()
            })
            .unwrap_or_default();
        let found = keys.iter().find(|key| {
            signatures
                .iter()
                .any(|sig| key.verifies(Hash::Sha256, Encoding::Der, &message, sig))
        });
        Some(
            found
                .map(PublicKey::fingerprint)
                .ok_or("the attestation does not verify with any key of the rule")?,
        )
    };
    Ok(Signed {
        verified_by,
        predicate_type,
        signing_profile: None,
    })
}

/// The protected-header keys a verifier of Notation signatures understands, and may therefore
/// find in `crit`; an envelope marking any other key critical is refused, as the JWS
/// specification (RFC 7515, 4.1.11) requires.
const UNDERSTOOD: [&str; 8] = [
    "io.cncf.notary.signingScheme",
    "io.cncf.notary.signingTime",
    "io.cncf.notary.authenticSigningTime",
    "io.cncf.notary.expiry",
    "io.cncf.notary.verificationPlugin",
    "io.cncf.notary.verificationPluginMinVersion",
    SIGNER_PROFILE_VERSION,
    "com.amazonaws.signer.signingJob",
];

/// The extended attribute AWS Signer puts in a Notation signature: its signing profile
/// version's ARN.
pub const SIGNER_PROFILE_VERSION: &str = "com.amazonaws.signer.signingProfileVersion";

/// Checks a Notation signature envelope in JWS (`application/jose+json`): its payload must
/// name `subject`, the signature must verify with its signing certificate, and with a
/// `trust_store` given, the certificate chain must lead to one of its certificates. `now` is
/// the time the chain is checked at (and at which an `expiry` is judged).
pub fn notation_jws(
    envelope: &[u8],
    subject: &str,
    trust_store: &[Certificate],
    now: Timestamp,
) -> Result<Signed, String> {
    let envelope: Value = serde_json::from_slice(envelope)
        .map_err(|_| "the Notation signature is not a JWS envelope (JSON)".to_string())?;
    let field = |name: &str| {
        envelope[name]
            .as_str()
            .ok_or_else(|| format!("the JWS envelope has no {name}"))
    };
    let (protected_b64, payload_b64, signature_b64) =
        (field("protected")?, field("payload")?, field("signature")?);
    let decode = |text: &str, what: &str| {
        URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map_err(|_| format!("the JWS {what} is not base64url"))
    };
    let header: Value = serde_json::from_slice(&decode(protected_b64, "protected header")?)
        .map_err(|_| "the JWS protected header is not JSON".to_string())?;
    if header["cty"].as_str() != Some("application/vnd.cncf.notary.payload.v1+json") {
        return Err("the JWS does not carry a Notation payload (cty)".into());
    }
    let scheme = header["io.cncf.notary.signingScheme"]
        .as_str()
        .unwrap_or("");
    if scheme != "notary.x509" && scheme != "notary.x509.signingAuthority" {
        return Err(format!("unknown Notation signing scheme {scheme:?}"));
    }
    if let Some(critical) = header["crit"].as_array() {
        for key in critical {
            let key = key.as_str().unwrap_or("");
            if !UNDERSTOOD.contains(&key) || header.get(key).is_none() {
                return Err(format!(
                    "the signature marks {key:?} critical, which is not understood"
                ));
            }
        }
    }
    if let Some(expiry) = header["io.cncf.notary.expiry"]
        .as_str()
        .and_then(Timestamp::parse_rfc3339)
    {
        if expiry < now {
            return Err("the signature has expired".into());
        }
    }
    let (hash, encoding) = match header["alg"].as_str().unwrap_or("") {
        "ES256" => (Hash::Sha256, Encoding::Fixed),
        "ES384" => (Hash::Sha384, Encoding::Fixed),
        "PS256" => (Hash::Sha256, Encoding::Pss),
        "PS384" => (Hash::Sha384, Encoding::Pss),
        "PS512" => (Hash::Sha512, Encoding::Pss),
        other => return Err(format!("unsupported JWS algorithm {other:?}")),
    };
    let chain = envelope["header"]["x5c"]
        .as_array()
        .ok_or("the JWS envelope has no certificate chain (x5c)")?
        .iter()
        .map(|der| {
            der.as_str()
                .and_then(|text| STANDARD.decode(text).ok())
                .ok_or_else(|| KeyError("a certificate of x5c is not base64".into()))
                .and_then(|der| Certificate::from_der(&der))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.0)?;
    let leaf = chain
        .first()
        .ok_or("the signature carries no certificate")?;
    let signing_input = format!("{protected_b64}.{payload_b64}");
    let signature = decode(signature_b64, "signature")?;
    if !leaf
        .key()
        .verifies(hash, encoding, signing_input.as_bytes(), &signature)
    {
        return Err("the signature does not verify with its signing certificate".into());
    }
    let payload: Value = serde_json::from_slice(&decode(payload_b64, "payload")?)
        .map_err(|_| "the Notation payload is not JSON".to_string())?;
    let named = payload["targetArtifact"]["digest"]
        .as_str()
        .ok_or("the Notation payload names no artifact")?;
    if named != subject {
        return Err(format!("the signature names another image, {named}"));
    }
    let signing_profile = header[SIGNER_PROFILE_VERSION].as_str().map(str::to_string);
    let verified_by = if trust_store.is_empty() {
        None
    } else {
        let at = match scheme {
            "notary.x509.signingAuthority" => header["io.cncf.notary.authenticSigningTime"]
                .as_str()
                .and_then(Timestamp::parse_rfc3339)
                .ok_or("the signature has no authentic signing time")?,
            _ => now,
        };
        verify_chain(&chain, trust_store, at)?;
        Some(leaf.subject())
    };
    Ok(Signed {
        verified_by,
        predicate_type: None,
        signing_profile,
    })
}
