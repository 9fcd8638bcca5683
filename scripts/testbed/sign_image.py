#!/usr/bin/env python3
"""Sign an image already pushed to the test bed, with real keys, in cosign's or Notation's
format (or attach an SBOM as oras does), and record every manifest in moto's ECR too.

Run with the test bed's venv python (stdlib + boto3 + cryptography), with the stack's env loaded:

    set -a; . "$DIR/env"; set +a
    "$STEWARD_PYTHON" scripts/testbed/sign_image.py --region us-east-1 --repository team/web \\
        --digest sha256:... --scheme cosign-sig

Schemes (what each writes is laid out as the named tool writes it; the registry/ECR bookkeeping,
the JSON encoding and the referrers tag schema fallback are push_artifacts.py's):
  cosign-sig       `cosign sign --key K --tlog-upload=false` (cosign 2.x tag scheme): tag
                   sha256-<hex>.sig, OCI manifest on go-containerregistry's empty image, one
                   application/vnd.dev.cosign.simplesigning.v1+json layer per signature with the
                   annotation dev.cosignproject.cosign/signature = base64(DER ECDSA-P256-SHA256
                   over the layer's bytes). Signing again appends a layer (mutate.Append).
  cosign-att       `cosign attest --key K --type T --tlog-upload=false`: tag sha256-<hex>.att,
                   application/vnd.dsse.envelope.v1+json layers (DSSE envelope of an in-toto
                   Statement; signature over the DSSE PAE), annotations
                   dev.cosignproject.cosign/signature="" and predicateType. Appends too.
  cosign-referrer  `COSIGN_EXPERIMENTAL=1 cosign sign --registry-referrers-mode=oci-1-1`
                   (pkg/oci/remote/write.go WriteSignaturesExperimentalOCI): the cosign-sig layer in
                   a manifest pushed by digest with config.mediaType = artifactType =
                   application/vnd.dev.cosign.artifact.sig.v1+json and a subject; without the
                   referrers API, go-containerregistry's fallback index (remote/write.go
                   commitSubjectReferrers: entries sorted by digest, old index left in place).
  notation         `notation sign --signature-format jws` (notation-go 1.3): an OCI 1.1 referrer,
                   artifactType application/vnd.cncf.notary.signature, empty config, one
                   application/jose+json layer (flattened JWS JSON: ES256/ES384/ES512 or
                   PS256/PS384/PS512 from the leaf's key), annotations
                   io.cncf.notary.x509chain.thumbprint#S256 and org.opencontainers.image.created.
                   --signer-shaped: what an AWS Signer (com.amazonaws.signer.notation.plugin)
                   envelope carries instead: signingScheme notary.x509.signingAuthority,
                   authenticSigningTime, expiry, and critical io.cncf.notary.verificationPlugin,
                   com.amazonaws.signer.signingProfileVersion, com.amazonaws.signer.signingJob;
                   no signing agent.
  sbom-spdx        `oras attach --artifact-type application/spdx+json IMAGE sbom.spdx.json`
  sbom-cyclonedx   `oras attach --artifact-type application/vnd.cyclonedx+json IMAGE sbom.cdx.json`

--tamper flips one byte of what was signed after signing (the blob and its descriptor agree, so
only the signature check catches it): cosign-sig/-referrer, the case of a letter of
docker-reference (cosign verify does not compare it); cosign-att, a letter in the predicate;
notation, a digit of the signing time in the protected header. --wrong-digest signs a payload
naming sha256(b"wrong:" + digest) instead of the image, still attached to the image.

Prints one JSON line:
    {"scheme", "region", "repository", "subject": {"mediaType", "digest", "size"},
     "signedDigest", "dockerReference", "artifactType", "tag", "digest" (the signature/SBOM
     manifest), "manifests": [{"digest", "mediaType", "size", "tag", "subject"}] (every manifest
     pushed, fallback indexes included), "blobs": [...], "key", "certChain", "alg",
     "signingTime", "predicateType", "tamper", "wrongDigest", "signerShaped", "profileVersionArn"}
"""
import argparse
import base64
import concurrent.futures
import datetime
import hashlib
import json
import os
import random
import sys
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import push_artifacts as pa  # noqa: E402
import push_image as pi  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "provenance")
SCHEMES = ("cosign-sig", "cosign-att", "cosign-referrer", "notation", "sbom-spdx",
           "sbom-cyclonedx")
COSIGN_SIG_ANNOTATION = "dev.cosignproject.cosign/signature"
COSIGN_REFERRER_TYPE = "application/vnd.dev.cosign.artifact.sig.v1+json"
JOSE = "application/jose+json"
NOTATION_AGENT = "notation-go/1.3.2"
SIGNER_PLUGIN = "com.amazonaws.signer.notation.plugin"
# cosign attest --type: cmd/cosign/cli/options/predicate.go
PREDICATE_TYPES = {"spdx": "https://spdx.dev/Document", "spdxjson": "https://spdx.dev/Document",
                   "cyclonedx": "https://cyclonedx.org/bom",
                   "slsaprovenance": "https://slsa.dev/provenance/v0.2",
                   "slsaprovenance02": "https://slsa.dev/provenance/v0.2",
                   "slsaprovenance1": "https://slsa.dev/provenance/v1"}
SBOM_TYPES = {"sbom-spdx": ("application/spdx+json", "sbom.spdx.json"),
              "sbom-cyclonedx": ("application/vnd.cyclonedx+json", "sbom.cdx.json")}


# ------------------------------------------------------------------ keys and signatures
def load_key(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def load_chain(paths):
    certs = []
    for path in paths:
        with open(path, "rb") as f:
            certs += x509.load_pem_x509_certificates(f.read())
    return certs


def ecdsa_der(key, data: bytes) -> bytes:
    """cosign's signature: ASN.1 DER ECDSA-Sig-Value over SHA-256 of the data (P-256 keys)."""
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise SystemExit("sign_image: cosign schemes need an ECDSA key (cosign generate-key-pair)")
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def jws_alg(key) -> str:
    """Notary Project signature spec, Algorithm Selection: the key decides the algorithm."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        alg = {256: "ES256", 384: "ES384", 521: "ES512"}.get(key.curve.key_size)
    elif isinstance(key, rsa.RSAPrivateKey):
        alg = {2048: "PS256", 3072: "PS384", 4096: "PS512"}.get(key.key_size)
    else:
        alg = None
    if not alg:
        raise SystemExit(f"sign_image: no Notary Project algorithm for {type(key).__name__}")
    return alg


def jws_sign(key, alg: str, signing_input: bytes) -> bytes:
    """RFC 7518: ES* is r||s, each the curve's size, big-endian; PS* is RSASSA-PSS with MGF1
    and a salt as long as the hash (golang-jwt's signing)."""
    digest = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}[alg[2:]]
    if alg.startswith("ES"):
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(digest)))
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return key.sign(signing_input, padding.PSS(mgf=padding.MGF1(digest),
                                               salt_length=digest.digest_size), digest)


def pae(payload_type: str, body: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body)


def flip_case(data: bytes, start: int) -> bytes:
    """Flips the case of the first ASCII letter at or after `start`: one byte changed."""
    for i in range(start, len(data)):
        if chr(data[i]).isalpha():
            return data[:i] + bytes([data[i] ^ 0x20]) + data[i + 1:]
    raise SystemExit("sign_image: nothing to tamper with")


def rfc3339(t: datetime.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------ cosign
def cosign_config(layer_digests) -> bytes:
    """go-containerregistry's empty.Image after mutate.Append of each layer (cosign
    pkg/oci/empty/empty.go, pkg/oci/mutate/signatures.go): one zero-time history entry and one
    diff_id (= the layer's digest: static layers are uncompressed) per layer."""
    return pa.go_json({"architecture": "", "created": "0001-01-01T00:00:00Z",
                       "history": [{"created": "0001-01-01T00:00:00Z"} for _ in layer_digests],
                       "os": "", "rootfs": {"type": "layers", "diff_ids": list(layer_digests)},
                       "config": {}})


def cosign_tag_push(p: pa.Pusher, tag: str, payload: bytes, layer_media: str, annotations: dict):
    """Appends one layer to the manifest under `tag` (or starts it), as cosign does; returns
    (manifest digest, layer descriptors)."""
    layers = []
    old = p.reg.get(tag)
    if old is not None:
        # kept as they were: mediaType, size, digest, annotations (go_json re-encodes them alike)
        layers = json.loads(old)["layers"]
    digest, size = p.blob(payload, layer_media)
    layers.append(pa.ggcr_desc(layer_media, digest, size, annotations=annotations))
    config = cosign_config([layer["digest"] for layer in layers])
    cfg_digest, cfg_size = p.blob(config, pa.OCI_CONFIG)
    manifest = pa.go_json({"schemaVersion": 2, "mediaType": pa.OCI_MANIFEST,
                           "config": pa.ggcr_desc(pa.OCI_CONFIG, cfg_digest, cfg_size),
                           "layers": layers})
    m_digest, _ = p.manifest(manifest, pa.OCI_MANIFEST, tag)
    return m_digest


def simple_signing_payload(reference: str, digest: str) -> bytes:
    # sigstore/sigstore pkg/signature/payload/payload.go: Cosign struct -> SimpleContainerImage,
    # json.Marshal
    return pa.go_json({"critical": {"identity": {"docker-reference": reference},
                                    "image": {"docker-manifest-digest": digest},
                                    "type": "cosign container image signature"},
                       "optional": None})


def tamper_simple_signing(payload: bytes) -> bytes:
    marker = b'"docker-reference":"'
    return flip_case(payload, payload.index(marker) + len(marker))


def predicate_for(predicate_type: str, reference: str, digest: str, when: str) -> dict:
    if predicate_type == "https://spdx.dev/Document":
        return spdx_document(reference, digest, when)
    if predicate_type == "https://cyclonedx.org/bom":
        return cyclonedx_document(reference, digest, when)
    if predicate_type == "https://slsa.dev/provenance/v1":
        return {"buildDefinition": {
                    "buildType": "https://actions.github.io/buildtypes/workflow/v1",
                    "externalParameters": {"workflow": {
                        "ref": "refs/tags/v1.4.2", "repository": "https://github.com/example/web",
                        "path": ".github/workflows/release.yml"}},
                    "internalParameters": {},
                    "resolvedDependencies": [{
                        "uri": "git+https://github.com/example/web@refs/tags/v1.4.2",
                        "digest": {"gitCommit": "9f1c2b7e4d3a5f60718293a4b5c6d7e8f9012345"}}]},
                "runDetails": {"builder": {"id": "https://github.com/example/web/.github/"
                                                 "workflows/release.yml@refs/tags/v1.4.2"},
                               "metadata": {"invocationId": "run-1", "startedOn": when}}}
    if predicate_type == "https://slsa.dev/provenance/v0.2":
        return {"builder": {"id": "https://github.com/example/web/.github/workflows/release.yml"},
                "buildType": "https://github.com/Attestations/GitHubActionsWorkflow@v1",
                "invocation": {"configSource": {}}, "metadata": {"buildStartedOn": when}}
    return {"note": "custom predicate written by sign_image.py"}


def spdx_document(reference, digest, when) -> dict:
    return {"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
            "name": f"{reference}@{digest}",
            "documentNamespace": f"https://example.com/spdx/{digest.split(':', 1)[1][:16]}",
            "creationInfo": {"created": when, "creators": ["Tool: syft-1.4.1"]},
            "packages": [{"name": "busybox", "SPDXID": "SPDXRef-Package-apk-busybox",
                          "versionInfo": "1.36.1-r15", "downloadLocation": "NOASSERTION",
                          "licenseConcluded": "NOASSERTION",
                          "licenseDeclared": "GPL-2.0-only"}],
            "relationships": [{"spdxElementId": "SPDXRef-DOCUMENT",
                               "relatedSpdxElement": "SPDXRef-Package-apk-busybox",
                               "relationshipType": "DESCRIBES"}]}


def cyclonedx_document(reference, digest, when) -> dict:
    return {"bomFormat": "CycloneDX", "specVersion": "1.5",
            "serialNumber": "urn:uuid:" + str(uuid.UUID(digest.split(":", 1)[1][:32])),
            "version": 1,
            "metadata": {"timestamp": when,
                         "tools": {"components": [{"type": "application", "name": "syft",
                                                   "version": "1.4.1"}]},
                         "component": {"type": "container", "name": reference,
                                       "version": digest}},
            "components": [{"type": "library", "name": "busybox", "version": "1.36.1-r15",
                            "purl": "pkg:apk/alpine/busybox@1.36.1-r15"}]}


# ------------------------------------------------------------------ go-containerregistry fallback
def ggcr_fallback(p: pa.Pusher, subject: str, m_digest: str, m_size: int, artifact_type: str):
    """go-containerregistry remote/write.go commitSubjectReferrers: unless GET referrers answers
    200, the index tagged sha256-<hex> gets the referrer (ggcr descriptor order, artifactType =
    the config's mediaType), manifests sorted by digest, json.Marshal(v1.IndexManifest); the old
    index is not deleted."""
    status, _, _ = p.reg._req("GET", f"/v2/{p.repository}/referrers/{subject}",
                              ok=tuple(range(200, 600)), headers={"Accept": pa.OCI_INDEX})
    if status == 200:
        return
    tag = subject.replace(":", "-", 1)
    old = p.reg.get(tag)
    entries = json.loads(old)["manifests"] if old is not None else []
    if any(d["digest"] == m_digest for d in entries):
        return
    entries.append({"mediaType": pa.OCI_MANIFEST, "size": m_size, "digest": m_digest,
                    "artifactType": artifact_type})
    entries.sort(key=lambda d: d["digest"])
    ggcr = []
    for d in entries:  # ggcr v1.Descriptor order
        out = {"mediaType": d["mediaType"], "size": d["size"], "digest": d["digest"]}
        for key in ("data", "urls", "annotations", "platform", "artifactType"):
            if d.get(key):
                out[key] = pa.smap(d[key]) if key == "annotations" else d[key]
        ggcr.append(out)
    p.manifest(pa.go_json({"schemaVersion": 2, "mediaType": pa.OCI_INDEX, "manifests": ggcr}),
               pa.OCI_INDEX, tag)


# ------------------------------------------------------------------ the schemes
def sign(args, p: pa.Pusher, subject: dict, reference: str, when: datetime.datetime) -> dict:
    digest = subject["digest"]
    signed = digest
    if args.wrong_digest:
        signed = "sha256:" + hashlib.sha256(b"wrong:" + digest.encode()).hexdigest()
    out = {"signedDigest": signed, "dockerReference": reference, "artifactType": None,
           "alg": None, "key": None, "certChain": [], "signingTime": rfc3339(when),
           "predicateType": None, "tag": None, "digest": None, "profileVersionArn": None}
    hexdigest = digest.split(":", 1)[1]

    if args.scheme in ("cosign-sig", "cosign-referrer"):
        key_path = args.key or os.path.join(FIXTURES, "cosign.key")
        key = load_key(key_path)
        payload = simple_signing_payload(reference, signed)
        sig = base64.b64encode(ecdsa_der(key, payload)).decode()
        if args.tamper:
            payload = tamper_simple_signing(payload)
        annotations = {COSIGN_SIG_ANNOTATION: sig}
        out.update(key=key_path, alg="ECDSA-P256-SHA256")
        if args.scheme == "cosign-sig":
            tag = f"sha256-{hexdigest}.sig"
            out.update(tag=tag, digest=cosign_tag_push(p, tag, payload, pa.COSIGN_SIMPLESIGNING,
                                                       annotations))
            return out
        # WriteSignaturesExperimentalOCI: the signatures image's manifest with config.mediaType
        # set to the artifactType, a subject, and artifactType after it (referrerManifest).
        l_digest, l_size = p.blob(payload, pa.COSIGN_SIMPLESIGNING)
        config = cosign_config([l_digest])
        c_digest, c_size = p.blob(config, COSIGN_REFERRER_TYPE)
        manifest = pa.go_json({
            "schemaVersion": 2, "mediaType": pa.OCI_MANIFEST,
            "config": pa.ggcr_desc(COSIGN_REFERRER_TYPE, c_digest, c_size),
            "layers": [pa.ggcr_desc(pa.COSIGN_SIMPLESIGNING, l_digest, l_size,
                                    annotations=annotations)],
            "subject": pa.ggcr_desc(subject["mediaType"], digest, subject["size"]),
            "artifactType": COSIGN_REFERRER_TYPE})
        m_digest, m_size = p.manifest(manifest, pa.OCI_MANIFEST)
        ggcr_fallback(p, digest, m_digest, m_size, COSIGN_REFERRER_TYPE)
        out.update(digest=m_digest, artifactType=COSIGN_REFERRER_TYPE)
        return out

    if args.scheme == "cosign-att":
        key_path = args.key or os.path.join(FIXTURES, "cosign.key")
        key = load_key(key_path)
        predicate_type = PREDICATE_TYPES.get(args.predicate_type, args.predicate_type)
        # cosign pkg/cosign/attestation/attestation.go: in_toto Statement (StatementHeader order
        # _type, subject, predicateType; then predicate), subject name = the repository
        statement_type = ("https://in-toto.io/Statement/v1" if args.statement_version == "v1"
                          else "https://in-toto.io/Statement/v0.1")
        predicate = predicate_for(predicate_type, reference, signed, rfc3339(when))
        statement = pa.go_json({"_type": statement_type,
                                "subject": [{"name": reference,
                                             "digest": {"sha256": signed.split(":", 1)[1]}}],
                                "predicateType": predicate_type, "predicate": predicate})
        sig = base64.b64encode(ecdsa_der(key, pae(pa.INTOTO, statement))).decode()
        if args.tamper:
            statement = flip_case(statement, statement.index(b'"predicate":') + 12)
        # secure-systems-lab/go-securesystemslib dsse Envelope: payloadType, payload, signatures
        envelope = pa.go_json({"payloadType": pa.INTOTO,
                               "payload": base64.b64encode(statement).decode(),
                               "signatures": [{"keyid": "", "sig": sig}]})
        tag = f"sha256-{hexdigest}.att"
        out.update(key=key_path, alg="ECDSA-P256-SHA256", predicateType=predicate_type, tag=tag,
                   digest=cosign_tag_push(p, tag, envelope, pa.DSSE,
                                          {COSIGN_SIG_ANNOTATION: "",
                                           "predicateType": predicate_type}))
        return out

    if args.scheme == "notation":
        key_path = args.key or os.path.join(FIXTURES, "notation-leaf.key")
        chain_paths = args.cert_chain or [os.path.join(FIXTURES, "notation-leaf.crt"),
                                          os.path.join(FIXTURES, "notation-root.crt")]
        key, certs = load_key(key_path), load_chain(chain_paths)
        alg = jws_alg(key)
        target = dict(subject, digest=signed)
        # notation-go internal/envelope: {"targetArtifact": descriptor}; notation-core-go
        # jws: the payload re-marshalled as jwt.MapClaims (keys sorted), compact.
        payload = pa.go_json({"targetArtifact": pa.smap(target)})
        extended, crit_ext = {}, []
        if args.signer_shaped:
            profile = args.profile_arn
            parts = profile.split(":", 5)
            if len(parts) != 6 or parts[2] != "signer" or \
                    not parts[5].startswith("/signing-profiles/"):
                raise SystemExit(f"sign_image: not a signing profile ARN: {profile!r}")
            rng = random.Random(f"{profile}/{signed}/{rfc3339(when)}")
            version_arn = profile if parts[5].count("/") == 3 else profile + "/" + "".join(
                rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
                for _ in range(10))
            job_id = uuid.UUID(int=rng.getrandbits(128), version=4)
            job = f"{':'.join(parts[:5])}:/signing-jobs/{job_id}"
            extended = {"io.cncf.notary.verificationPlugin": SIGNER_PLUGIN,
                        "com.amazonaws.signer.signingProfileVersion": version_arn,
                        "com.amazonaws.signer.signingJob": job}
            crit_ext = list(extended)
            out["profileVersionArn"] = version_arn
        # notation-core-go signature/jws getSignedAttributes: crit = signingScheme, critical
        # extended attributes, authenticSigningTime (signingAuthority), expiry (if any); the
        # header is a Go map, so json.Marshal sorts its keys.
        protected = {"alg": alg, "cty": pa.NOTARY_PAYLOAD}
        if args.signer_shaped:
            expiry = when + datetime.timedelta(days=3 * 365 + 1)
            protected.update({
                "io.cncf.notary.signingScheme": "notary.x509.signingAuthority",
                "io.cncf.notary.authenticSigningTime": rfc3339(when),
                "io.cncf.notary.expiry": rfc3339(expiry),
                "crit": ["io.cncf.notary.signingScheme", *crit_ext,
                         "io.cncf.notary.authenticSigningTime", "io.cncf.notary.expiry"]})
            protected.update(extended)
        else:
            protected.update({"io.cncf.notary.signingScheme": "notary.x509",
                              "io.cncf.notary.signingTime": rfc3339(when),
                              "crit": ["io.cncf.notary.signingScheme"]})
        protected_b = pa.go_json(pa.smap(protected))
        signing_input = (pa.b64url(protected_b) + "." + pa.b64url(payload)).encode()
        signature = jws_sign(key, alg, signing_input)
        if args.tamper:
            time_key = b'Time":"' if not args.signer_shaped else b'authenticSigningTime":"'
            at = protected_b.index(time_key) + len(time_key) + 18  # the seconds' last digit
            digit = protected_b[at:at + 1]
            protected_b = protected_b[:at] + (b"1" if digit == b"0" else b"0") + \
                protected_b[at + 1:]
        header = {"x5c": [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()
                          for c in certs]}
        if not args.signer_shaped:
            header["io.cncf.notary.signingAgent"] = args.signing_agent
        envelope = pa.go_json({"payload": pa.b64url(payload), "protected": pa.b64url(protected_b),
                               "header": header, "signature": pa.b64url(signature)})
        e_digest, e_size = p.blob(envelope, JOSE)
        thumbprints = pa.go_json([hashlib.sha256(c.public_bytes(serialization.Encoding.DER))
                                  .hexdigest() for c in certs]).decode()
        manifest = pa.oras_manifest(p, pa.NOTARY_SIGNATURE, pa.oci_desc(JOSE, e_digest, e_size),
                                    pa.oci_desc(subject["mediaType"], digest, subject["size"]),
                                    {"io.cncf.notary.x509chain.thumbprint#S256": thumbprints,
                                     "org.opencontainers.image.created": rfc3339(when)})
        m_digest, _ = p.manifest(manifest, pa.OCI_MANIFEST, oras=True)
        out.update(key=key_path, certChain=chain_paths, alg=alg, digest=m_digest,
                   artifactType=pa.NOTARY_SIGNATURE)
        return out

    # sbom-spdx / sbom-cyclonedx: oras attach (push_artifacts.py shape_oci_referrers)
    media, filename = SBOM_TYPES[args.scheme]
    maker = spdx_document if args.scheme == "sbom-spdx" else cyclonedx_document
    document = pa.go_json(maker(reference, digest, rfc3339(when)), indent=1)
    d_digest, d_size = p.blob(document, media)
    manifest = pa.oras_manifest(
        p, media, pa.oci_desc(media, d_digest, d_size,
                              annotations={"org.opencontainers.image.title": filename}),
        pa.oci_desc(subject["mediaType"], digest, subject["size"]),
        {"org.opencontainers.image.created": rfc3339(when)})
    m_digest, _ = p.manifest(manifest, pa.OCI_MANIFEST, oras=True)
    out.update(digest=m_digest, artifactType=media, signedDigest=None, signingTime=None)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 2)[2])
    ap.add_argument("--scheme", required=True, choices=SCHEMES)
    ap.add_argument("--repository", required=True)
    ap.add_argument("--digest", required=True, help="the pushed image's manifest digest")
    ap.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    ap.add_argument("--registry",
                    help="OCI registry base URL (default: $STEWARD_REGISTRY_<REGION>)")
    ap.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"),
                    help="moto endpoint (default: $AWS_ENDPOINT_URL)")
    ap.add_argument("--no-ecr", action="store_true", help="registry only; skip moto put_image")
    ap.add_argument("--key", help="PEM private key (default: the fixtures' cosign.key, or "
                    "notation-leaf.key for notation)")
    ap.add_argument("--cert-chain", action="append", metavar="PEM",
                    help="notation: certificate file(s), leaf first, root last (repeatable; "
                    "default notation-leaf.crt notation-root.crt)")
    ap.add_argument("--docker-reference", help="cosign identity / in-toto subject name "
                    "(default <account>.dkr.ecr.<region>.amazonaws.com/<repository>)")
    ap.add_argument("--predicate-type", default="slsaprovenance1",
                    help="cosign-att: spdx, cyclonedx, slsaprovenance (v0.2), slsaprovenance1, "
                    "or a URI (default slsaprovenance1)")
    ap.add_argument("--statement-version", choices=("v0.1", "v1"), default="v0.1",
                    help="cosign-att in-toto Statement _type (cosign 2.x writes v0.1)")
    ap.add_argument("--signing-time", help="RFC 3339, whole seconds, UTC (default: now)")
    ap.add_argument("--signing-agent", default=NOTATION_AGENT, help="notation unprotected header")
    ap.add_argument("--signer-shaped", action="store_true",
                    help="notation: an AWS Signer-shaped envelope (needs --profile-arn)")
    ap.add_argument("--profile-arn", help="arn:aws:signer:REGION:ACCOUNT:/signing-profiles/NAME"
                    "[/VERSION]; without VERSION a 10-character one is made up")
    ap.add_argument("--tamper", action="store_true",
                    help="change one byte of the signed content after signing")
    ap.add_argument("--wrong-digest", action="store_true",
                    help="sign a payload that names another digest")
    args = ap.parse_args()
    if args.signer_shaped and (args.scheme != "notation" or not args.profile_arn):
        ap.error("--signer-shaped is for --scheme notation and needs --profile-arn")
    if args.scheme.startswith("sbom-") and (args.tamper or args.wrong_digest):
        ap.error("an SBOM is not signed: --tamper and --wrong-digest do not apply")
    if args.cert_chain and args.scheme != "notation":
        ap.error("--cert-chain is for --scheme notation")

    key = "STEWARD_REGISTRY_" + args.region.upper().replace("-", "_")
    registry = args.registry or os.environ.get(key)
    if not registry:
        ap.error(f"--registry not given and {key} not set (source the stack's env file)")
    if args.signing_time:
        when = datetime.datetime.fromisoformat(args.signing_time.replace("Z", "+00:00"))
        when = when.astimezone(datetime.timezone.utc).replace(microsecond=0)
    else:
        when = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)

    # Credentials and the ECR host as push_artifacts.py finds them.
    authorization, proxy, client = None, "", None
    try:
        client = pi.ecr_client(args.region, args.endpoint_url)
        data = client.get_authorization_token()["authorizationData"][0]
        authorization, proxy = f"Basic {data['authorizationToken']}", data.get("proxyEndpoint", "")
    except Exception as err:
        if not args.no_ecr:
            raise
        print(f"sign_image: GetAuthorizationToken failed ({err}); using "
              "TESTBED_REGISTRY_CREDENTIALS", file=sys.stderr)
        creds = os.environ.get("TESTBED_REGISTRY_CREDENTIALS")
        if creds:
            authorization = "Basic " + base64.b64encode(creds.encode()).decode()
    account = (urllib.parse.urlsplit(proxy).hostname or "").split(".")[0]
    if not account.isdigit():
        account = "123456789012"
    ecr_host = f"{account}.dkr.ecr.{args.region}.amazonaws.com"
    reference = args.docker_reference or f"{ecr_host}/{args.repository}"

    reg = pa.Registry(registry, args.repository, authorization)
    try:
        status, hdrs, body = reg._req("GET", f"/v2/{args.repository}/manifests/{args.digest}",
                                      headers={"Accept": pa.ACCEPT})
    except pa.RegistryError as err:
        sys.exit(f"sign_image: the image to sign is not there: {err}")
    if pi.sha256(body) != args.digest:
        sys.exit(f"sign_image: registry served {pi.sha256(body)} for {args.digest}")
    media_type = hdrs.get_content_type()
    if media_type in ("application/json", "text/plain", "application/octet-stream"):
        media_type = json.loads(body).get("mediaType", media_type)
    subject = {"mediaType": media_type, "digest": args.digest, "size": len(body)}

    ecr = None if args.no_ecr else client
    uploads = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="blob")
    p = pa.Pusher(reg, ecr, args.repository, random.Random(args.digest), when, ecr_host, uploads)
    try:
        result = sign(args, p, subject, reference, when)
        p.drain()
    except pa.RegistryError as err:
        sys.exit(f"sign_image: {err}")
    finally:
        uploads.shutdown()
    for note in p.notes:
        print(note.replace("push_artifacts", "sign_image"), file=sys.stderr)
    line = {"scheme": args.scheme, "region": args.region, "repository": args.repository,
            "subject": subject, **result, "tamper": args.tamper,
            "wrongDigest": args.wrong_digest, "signerShaped": args.signer_shaped,
            "manifests": p.manifests, "blobs": list(p.blobs.values())}
    print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
