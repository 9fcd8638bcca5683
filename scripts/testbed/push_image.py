#!/usr/bin/env python3
"""Push a real image to a local OCI registry AND record the same manifest in moto's ECR.

Run with the test bed's venv python (stdlib + boto3), with the stack's env loaded:

    set -a; . "$DIR/env"; set +a
    "$STEWARD_PYTHON" scripts/testbed/push_image.py --region us-east-1 --repository app \
        --tag 1.2.3 --label org.opencontainers.image.version=1.2.3 \
        --platform linux/amd64 --platform linux/arm64 --child-label-omit linux/arm64

Steps: upload each blob (monolithic POST + PUT ?digest=, checked with HEAD); for an index, PUT
each child by digest and put_image it untagged; PUT the manifest by digest; moto ECR put_image
with the exact manifest bytes and their sha256 (and the tag); then PUT the manifest by tag.
Exits 1 with a message if ECR refuses the tag (immutable). Prints one JSON line:
    {"repository", "region", "tag", "digest", "mediaType", "children": [digests]}
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import random
import sys
import tarfile
import urllib.error
import urllib.parse
import urllib.request

MEDIA = {
    "oci": {
        "manifest": "application/vnd.oci.image.manifest.v1+json",
        "index": "application/vnd.oci.image.index.v1+json",
        "config": "application/vnd.oci.image.config.v1+json",
        "layer": "application/vnd.oci.image.layer.v1.tar+gzip",
    },
    "docker": {
        "manifest": "application/vnd.docker.distribution.manifest.v2+json",
        "index": "application/vnd.docker.distribution.manifest.list.v2+json",
        "config": "application/vnd.docker.container.image.v1+json",
        "layer": "application/vnd.docker.image.rootfs.diff.tar.gzip",
    },
}


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def kv(text: str):
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def parse_platform(text: str) -> dict:
    parts = text.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise argparse.ArgumentTypeError(f"expected OS/ARCH[/VARIANT], got {text!r}")
    plat = {"architecture": parts[1], "os": parts[0]}
    if len(parts) == 3:
        plat["variant"] = parts[2]
    return plat


# ------------------------------------------------------------------ registry (OCI distribution)
class SameOriginAuthorization(urllib.request.HTTPRedirectHandler):
    """Follows a redirect without the Authorization header when it leaves the registry's
    origin (ECR sends blob reads to a pre-signed S3 URL, which carries its own signature)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None:
            old, nxt = urllib.parse.urlsplit(req.full_url), urllib.parse.urlsplit(newurl)
            if (old.scheme, old.netloc) != (nxt.scheme, nxt.netloc):
                new.remove_header("Authorization")
        return new


class Registry:
    def __init__(self, base: str, repository: str, authorization: str | None = None):
        self.base = base.rstrip("/")
        self.repo = repository
        # Sent on every request, as an ECR client does with GetAuthorizationToken's token.
        self.authorization = authorization
        # SSL_CERT_FILE (the stack's CA) is honoured by the default context.
        self.opener = urllib.request.build_opener(SameOriginAuthorization())

    def _req(self, method, url, data=None, headers=None, ok=(200,)):
        if not url.startswith("http"):
            url = self.base + url
        headers = dict(headers or {})
        if self.authorization:
            headers["Authorization"] = self.authorization
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with self.opener.open(req, timeout=60) as resp:
                body = resp.read()
                status, hdrs = resp.status, resp.headers
        except urllib.error.HTTPError as err:
            body, status, hdrs = err.read(), err.code, err.headers
        if status not in ok:
            raise SystemExit(f"push_image: {method} {url} -> HTTP {status}: {body[:500]!r}")
        return status, hdrs, body

    def has_blob(self, digest) -> bool:
        status, _, _ = self._req("HEAD", f"/v2/{self.repo}/blobs/{digest}", ok=(200, 404))
        return status == 200

    def put_blob(self, data: bytes) -> str:
        digest = sha256(data)
        if not self.has_blob(digest):
            _, hdrs, _ = self._req("POST", f"/v2/{self.repo}/blobs/uploads/", data=b"", ok=(202,))
            location = urllib.parse.urljoin(self.base + "/", hdrs["Location"])
            sep = "&" if "?" in location else "?"
            url = f"{location}{sep}digest={urllib.parse.quote(digest)}"
            self._req("PUT", url, data=data, ok=(201,), headers={
                "Content-Type": "application/octet-stream",
                "Content-Length": str(len(data))})
            if not self.has_blob(digest):
                raise SystemExit(f"push_image: blob {digest} missing after upload")
        return digest

    def put_manifest(self, reference: str, data: bytes, media_type: str) -> str:
        _, hdrs, _ = self._req("PUT", f"/v2/{self.repo}/manifests/{reference}", data=data,
                               ok=(201,), headers={"Content-Type": media_type})
        digest = sha256(data)
        served = hdrs.get("Docker-Content-Digest")
        if served and served != digest:
            raise SystemExit(f"push_image: registry says {served}, bytes hash to {digest}")
        return digest


# ------------------------------------------------------------------ image building
def make_layer(rng: random.Random, index: int, size: int) -> tuple[bytes, str]:
    """A real tar.gz with one file of `size` random bytes. Returns (blob, diff_id)."""
    payload = rng.randbytes(size)
    tar_buf = io.BytesIO()
    with tarfile.open(fileobj=tar_buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(f"layer{index}/data.bin")
        info.size, info.mtime, info.mode = size, 0, 0o644
        tar.addfile(info, io.BytesIO(payload))
    tar_bytes = tar_buf.getvalue()
    return gzip.compress(tar_bytes, mtime=0), sha256(tar_bytes)


def build_image(reg: Registry, media: dict, plat: dict, args, rng, with_labels: bool):
    """Upload config + layers for one platform and return (manifest bytes, manifest dict)."""
    layers, diff_ids = [], []
    for i in range(args.layers):
        blob, diff_id = make_layer(rng, i, args.layer_size)
        layers.append({"mediaType": media["layer"], "digest": reg.put_blob(blob),
                       "size": len(blob)})
        diff_ids.append(diff_id)
    config = {
        "architecture": plat["architecture"],
        "os": plat["os"],
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    if "variant" in plat:
        config["variant"] = plat["variant"]
    if with_labels and args.label:
        config["config"]["Labels"] = dict(args.label)
    config_bytes = json.dumps(config, separators=(",", ":"), sort_keys=True).encode()
    manifest = {"schemaVersion": 2, "mediaType": media["manifest"],
                "config": {"mediaType": media["config"], "digest": reg.put_blob(config_bytes),
                           "size": len(config_bytes)},
                "layers": layers}
    if with_labels and args.annotation and args.media == "oci":
        manifest["annotations"] = dict(args.annotation)
    return json.dumps(manifest, indent=3).encode(), manifest


# ------------------------------------------------------------------ moto ECR
def ecr_client(region: str, endpoint: str | None):
    import boto3  # imported late so --help works without it
    return boto3.client("ecr", region_name=region, endpoint_url=endpoint or None)


def ensure_repository(ecr, name: str):
    try:
        ecr.describe_repositories(repositoryNames=[name])
    except ecr.exceptions.RepositoryNotFoundException:
        ecr.create_repository(repositoryName=name)


def ecr_put(ecr, repo: str, data: bytes, media_type: str, tag: str | None):
    from botocore.exceptions import ClientError
    digest = sha256(data)
    params = {"repositoryName": repo, "imageManifest": data.decode("utf-8"),
              "imageManifestMediaType": media_type, "imageDigest": digest}
    if tag:
        params["imageTag"] = tag
    try:
        ecr.put_image(**params)
    except ClientError as err:
        code = err.response["Error"]["Code"]
        if code not in ("ImageAlreadyExistsException", "ImageTagAlreadyExistsException"):
            raise
        if not tag:
            return  # same bytes already there
        # moto answers ImageAlreadyExists both for "same image, same tag" (fine: idempotent)
        # and for an immutable tag that points elsewhere (a conflict).
        found = ecr.describe_images(repositoryName=repo, imageIds=[{"imageTag": tag}])
        current = found["imageDetails"][0]["imageDigest"]
        if current != digest:
            sys.exit(f"push_image: {code}: tag {tag!r} in {repo} is immutable and points to "
                     f"{current}; nothing pushed under that tag")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--registry", help="OCI registry base URL (default: $STEWARD_REGISTRY_<REGION>)")
    ap.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    ap.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"),
                    help="moto endpoint (default: $AWS_ENDPOINT_URL)")
    ap.add_argument("--repository", required=True)
    ap.add_argument("--tag", help="omit to push untagged (by digest)")
    ap.add_argument("--label", type=kv, action="append", default=[], metavar="KEY=VALUE",
                    help="config.Labels entry (repeatable)")
    ap.add_argument("--annotation", type=kv, action="append", default=[], metavar="KEY=VALUE",
                    help="manifest annotation; on the index too for 2+ platforms; oci only (repeatable)")
    ap.add_argument("--platform", type=parse_platform, action="append", default=[],
                    metavar="OS/ARCH[/VARIANT]", help="repeatable; 2+ pushes an image index")
    ap.add_argument("--child-label-omit", type=parse_platform, action="append", default=[],
                    metavar="OS/ARCH[/VARIANT]",
                    help="this platform's child gets no labels and no annotations (repeatable)")
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--layer-size", type=int, default=1024, metavar="BYTES")
    ap.add_argument("--media", choices=("oci", "docker"), default="oci")
    ap.add_argument("--seed", help="make the image reproducible (same seed, same digests)")
    ap.add_argument("--no-ecr", action="store_true", help="registry only; skip moto put_image")
    args = ap.parse_args()

    registry = args.registry or os.environ.get(
        "STEWARD_REGISTRY_" + args.region.upper().replace("-", "_"))
    if not registry:
        ap.error(f"--registry not given and STEWARD_REGISTRY_{args.region.upper().replace('-', '_')}"
                 " not set (source the stack's env file)")
    if args.annotation and args.media == "docker":
        print("push_image: warning: Docker media types have no annotations; ignoring --annotation",
              file=sys.stderr)
    platforms = args.platform or [parse_platform("linux/amd64")]
    media = MEDIA[args.media]
    rng = random.Random(args.seed) if args.seed is not None else random.Random(os.urandom(16))

    # The registry's credentials come from ECR's GetAuthorizationToken, as for any ECR client
    # (also with --no-ecr, which only skips recording the image in ECR).
    client = ecr_client(args.region, args.endpoint_url)
    token = client.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    reg = Registry(registry, args.repository, f"Basic {token}")
    ecr = None
    if not args.no_ecr:
        ecr = client
        ensure_repository(ecr, args.repository)

    children = []
    if len(platforms) == 1:
        data, _ = build_image(reg, media, platforms[0], args, rng, with_labels=True)
        media_type = media["manifest"]
    else:
        entries = []
        for plat in platforms:
            child, _ = build_image(reg, media, plat, args, rng,
                                   with_labels=plat not in args.child_label_omit)
            digest = reg.put_manifest(sha256(child), child, media["manifest"])
            if ecr:
                ecr_put(ecr, args.repository, child, media["manifest"], None)
            children.append(digest)
            entries.append({"mediaType": media["manifest"], "digest": digest,
                            "size": len(child), "platform": plat})
        index = {"schemaVersion": 2, "mediaType": media["index"], "manifests": entries}
        if args.annotation and args.media == "oci":
            index["annotations"] = dict(args.annotation)
        data = json.dumps(index, indent=3).encode()
        media_type = media["index"]

    # Registry by digest, then ECR (which may refuse an immutable tag), then the registry tag:
    # a refused push leaves both sides as they were.
    digest = reg.put_manifest(sha256(data), data, media_type)
    if ecr:
        ecr_put(ecr, args.repository, data, media_type, args.tag)
    if args.tag:
        reg.put_manifest(args.tag, data, media_type)
    print(json.dumps({"repository": args.repository, "region": args.region, "tag": args.tag,
                      "digest": digest, "mediaType": media_type, "children": children}))


if __name__ == "__main__":
    main()
