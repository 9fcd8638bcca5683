#!/usr/bin/env python3
"""Check what sign_image.py pushed, independently of the Rust verifier: fetch every cosign tag
scheme signature/attestation and every referrer of an image, and verify them with
`cryptography` against the given keys and trust store. Also checks that moto's ECR has each
manifest under the same digest.

    set -a; . "$DIR/env"; set +a
    "$STEWARD_PYTHON" scripts/testbed/verify_fixture.py --repository team/web --digest sha256:...

Prints one JSON line per signature found: {"kind", "manifest", "layer", "result": "valid" |
"invalid: why", "signedDigest", ...} and exits 0. `--expect valid|invalid` makes it exit 1 when
any signature's result differs.
"""
import argparse
import base64
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import push_artifacts as pa  # noqa: E402
import push_image as pi  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.exceptions import InvalidSignature  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, padding  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "provenance")


def b64url_decode(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def verify_ecdsa_der(pub, sig_b64: str, data: bytes) -> str:
    try:
        pub.verify(base64.b64decode(sig_b64), data, ec.ECDSA(hashes.SHA256()))
        return "valid"
    except InvalidSignature:
        return "invalid: signature"


def check_cosign_layer(reg, pub, layer, subject_digest) -> dict:
    blob = reg_blob(reg, layer["digest"])
    sig = layer.get("annotations", {}).get("dev.cosignproject.cosign/signature")
    out = {"layer": layer["digest"], "mediaType": layer["mediaType"]}
    if layer["mediaType"] == pa.COSIGN_SIMPLESIGNING:
        payload = json.loads(blob)
        out["signedDigest"] = payload["critical"]["image"]["docker-manifest-digest"]
        out["dockerReference"] = payload["critical"]["identity"]["docker-reference"]
        result = verify_ecdsa_der(pub, sig, blob)
    else:  # DSSE
        env = json.loads(blob)
        body = base64.b64decode(env["payload"])
        t = env["payloadType"].encode()
        pae = b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body)
        statement = json.loads(body)
        out["signedDigest"] = "sha256:" + statement["subject"][0]["digest"]["sha256"]
        out["predicateType"] = statement["predicateType"]
        if statement["predicateType"] != layer["annotations"].get("predicateType"):
            out["note"] = "predicateType annotation differs from the statement"
        result = verify_ecdsa_der(pub, env["signatures"][0]["sig"], pae)
    if result == "valid" and out["signedDigest"] != subject_digest:
        result = "invalid: signs another digest"
    out["result"] = result
    return out


def check_notation(reg, trust, manifest, subject) -> dict:
    layer = manifest["layers"][0]
    env = json.loads(reg_blob(reg, layer["digest"]))
    protected = json.loads(b64url_decode(env["protected"]))
    payload = json.loads(b64url_decode(env["payload"]))
    certs = [x509.load_der_x509_certificate(base64.b64decode(c)) for c in env["header"]["x5c"]]
    out = {"layer": layer["digest"], "alg": protected["alg"],
           "signingScheme": protected["io.cncf.notary.signingScheme"],
           "signedDigest": payload["targetArtifact"]["digest"],
           "extended": {k: v for k, v in protected.items()
                        if not k.startswith("io.cncf.notary.") and k not in ("alg", "cty", "crit")}}
    thumbs = json.loads(manifest["annotations"]["io.cncf.notary.x509chain.thumbprint#S256"])
    if thumbs != [hashlib.sha256(c.public_bytes(serialization.Encoding.DER)).hexdigest()
                  for c in certs]:
        out["result"] = "invalid: thumbprint annotation"
        return out
    data = (env["protected"] + "." + env["payload"]).encode()
    sig = b64url_decode(env["signature"])
    pub = certs[0].public_key()
    h = {"256": hashes.SHA256(), "384": hashes.SHA384(),
         "512": hashes.SHA512()}[protected["alg"][2:]]
    try:
        if protected["alg"].startswith("ES"):
            n = len(sig) // 2
            pub.verify(encode_dss_signature(int.from_bytes(sig[:n], "big"),
                                            int.from_bytes(sig[n:], "big")), data, ec.ECDSA(h))
        else:
            pub.verify(sig, data, padding.PSS(padding.MGF1(h), padding.PSS.AUTO), h)
    except InvalidSignature:
        out["result"] = "invalid: signature"
        return out
    # the chain: each certificate issued by the next, the last one in the trust store
    try:
        for child, parent in zip(certs, certs[1:]):
            child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        out["result"] = "invalid: broken chain"
        return out
    if not any(certs[-1] == t for t in trust):
        out["result"] = "invalid: root not in the trust store"
        return out
    if payload["targetArtifact"]["digest"] != subject:
        out["result"] = "invalid: signs another digest"
        return out
    out["result"] = "valid"
    return out


def reg_blob(reg, digest) -> bytes:
    _, _, body = reg._req("GET", f"/v2/{reg.repo}/blobs/{digest}")
    if pi.sha256(body) != digest:
        raise SystemExit(f"verify_fixture: blob {digest} hashes to {pi.sha256(body)}")
    return body


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repository", required=True)
    ap.add_argument("--digest", required=True)
    ap.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    ap.add_argument("--registry")
    ap.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"))
    ap.add_argument("--pub", default=os.path.join(FIXTURES, "cosign.pub"))
    ap.add_argument("--trust-store", action="append",
                    help="root certificate PEM (repeatable; default notation-root.crt)")
    ap.add_argument("--expect", choices=("valid", "invalid"))
    ap.add_argument("--no-ecr", action="store_true")
    args = ap.parse_args()
    key = "STEWARD_REGISTRY_" + args.region.upper().replace("-", "_")
    registry = args.registry or os.environ[key]
    client = pi.ecr_client(args.region, args.endpoint_url)
    token = client.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    reg = pa.Registry(registry, args.repository, f"Basic {token}")
    with open(args.pub, "rb") as f:
        pub = serialization.load_pem_public_key(f.read())
    trust = []
    for path in args.trust_store or [os.path.join(FIXTURES, "notation-root.crt")]:
        with open(path, "rb") as f:
            trust += x509.load_pem_x509_certificates(f.read())

    results = []

    def ecr_agrees(digest):
        if args.no_ecr:
            return None
        try:
            client.describe_images(repositoryName=args.repository,
                                   imageIds=[{"imageDigest": digest}])
            return True
        except client.exceptions.ImageNotFoundException:
            return False

    hexd = args.digest.split(":", 1)[1]
    for suffix, kind in ((".sig", "cosign-sig"), (".att", "cosign-att")):
        body = reg.get(f"sha256-{hexd}{suffix}")
        if body is None:
            continue
        m_digest = pi.sha256(body)
        for layer in json.loads(body)["layers"]:
            r = check_cosign_layer(reg, pub, layer, args.digest)
            results.append({"kind": kind, "manifest": m_digest, "inEcr": ecr_agrees(m_digest), **r})

    # referrers: the API if the registry has it, else the referrers tag schema index
    status, hdrs, body = reg._req("GET", f"/v2/{args.repository}/referrers/{args.digest}",
                                  ok=tuple(range(200, 600)), headers={"Accept": pa.OCI_INDEX})
    if status != 200:
        body = reg.get(f"sha256-{hexd}") or b'{"manifests": []}'
    for desc in json.loads(body)["manifests"]:
        mbody = reg.get(desc["digest"])
        manifest = json.loads(mbody)
        if manifest.get("subject", {}).get("digest") != args.digest:
            results.append({"kind": "referrer", "manifest": desc["digest"],
                            "result": "invalid: subject is not the image"})
            continue
        at = manifest.get("artifactType") or manifest["config"]["mediaType"]
        base = {"manifest": desc["digest"], "artifactType": at, "inEcr": ecr_agrees(desc["digest"])}
        if at == pa.NOTARY_SIGNATURE:
            results.append({"kind": "notation", **base,
                            **check_notation(reg, trust, manifest, args.digest)})
        elif at == "application/vnd.dev.cosign.artifact.sig.v1+json":
            for layer in manifest["layers"]:
                results.append({"kind": "cosign-referrer", **base,
                                **check_cosign_layer(reg, pub, layer, args.digest)})
        else:
            doc = reg_blob(reg, manifest["layers"][0]["digest"])
            json.loads(doc)
            results.append({"kind": "attachment", **base, "result": "present"})
    failed = False
    for r in results:
        print(json.dumps(r))
        if args.expect and r["kind"] != "attachment" and \
                (r["result"] == "valid") != (args.expect == "valid"):
            failed = True
        if r.get("inEcr") is False:
            failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
