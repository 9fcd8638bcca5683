#!/usr/bin/env python3
"""Pushes a random image of N tar.gz layers to an OCI registry, streaming.

scripts/testbed/push_image.py builds each layer in memory (the random payload, the tar, then
the gzip: about 3x the layer size at once) and gzips at level 9, which is slow on random data.
This generator streams: each layer is a real tar.gz (one file of random bytes; gzip level 0,
since random data does not compress) sent as one chunked PATCH while it is hashed, so memory
stays at a few MiB whatever the size.

    make_image.py --registry http://127.0.0.1:5000 --repository bench/large --tag v1 \
        --layers 8 --layer-size 134217728
    make_image.py ... --platforms 2 --ecr-region us-east-1      # an index; also in moto's ECR
    make_image.py ... --tag 'v{i}' --count 2000 --jobs 8        # 2000 distinct images

Prints one JSON line per image: {"repository", "tag", "digest", "mediaType", "size",
"children", "seconds"} (size: all blobs, in bytes, of every platform).

--platforms N (N >= 2) pushes N platform manifests (linux/amd64, linux/arm64, then
linux/arm/v7, linux/ppc64le, ...), each with its own random layers and config, by digest, and
an OCI image index over them under the tag; the JSON names the index. --count N pushes N such
images, each with fresh random layers, under the tags TAG.format(i=0..N-1) (TAG must then
contain {i}), --jobs at a time.

--ecr-region REGION also records each image in ECR (moto at $AWS_ENDPOINT_URL, with boto3: run
with the stack's python, $STEWARD_PYTHON), as scripts/testbed/push_image.py does: the
repository is created if missing, each platform manifest is put untagged, then the image (or
index) with its tag, with the exact bytes pushed to the registry. That is what
`ecr-steward replicate` plans from (DescribeImages).

An https:// registry is verified against the default store (SSL_CERT_FILE); the
REGISTRY_AUTHORIZATION environment variable, when set, is sent as the Authorization header.
Connections are kept open and reused (one per thread).
"""
import argparse
import concurrent.futures
import hashlib
import http.client
import json
import os
import sys
import tarfile
import threading
import time
import urllib.parse
import zlib

CHUNK = 1 << 20
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
PLATFORMS = ["linux/amd64", "linux/arm64", "linux/arm/v7", "linux/ppc64le", "linux/s390x",
             "linux/386", "linux/riscv64", "linux/mips64le"]


class Registry:
    def __init__(self, base: str):
        url = urllib.parse.urlsplit(base)
        if url.scheme not in ("http", "https"):
            sys.exit(f"make_image: {base}: http:// or https:// only")
        self.base = base.rstrip("/")
        self.authorization = os.environ.get("REGISTRY_AUTHORIZATION")
        self.local = threading.local()  # this thread's open connections, by origin

    def _connection(self, url, fresh=False):
        conns = self.local.__dict__.setdefault("conns", {})
        key = (url.scheme, url.hostname, url.port)
        if fresh or key not in conns:
            if key in conns:
                conns[key].close()
            cls = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
            conns[key] = cls(url.hostname, url.port or (443 if url.scheme == "https" else 80),
                             timeout=120)
        return conns[key]

    def request(self, method, target, body=None, headers=None, ok=(200, 201, 202), chunked=False):
        url = urllib.parse.urlsplit(urllib.parse.urljoin(self.base + "/", target))
        path = url.path + (f"?{url.query}" if url.query else "")
        headers = dict(headers or {})
        if self.authorization:
            headers["Authorization"] = self.authorization
        conn = self._connection(url)
        try:
            conn.request(method, path, body=body, headers=headers, encode_chunked=chunked)
            resp = conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError, BrokenPipeError):
            # A kept connection the server closed meanwhile: once more on a new one, if the
            # body can be sent again.
            if not (body is None or isinstance(body, bytes)):
                raise
            conn = self._connection(url, fresh=True)
            conn.request(method, path, body=body, headers=headers, encode_chunked=chunked)
            resp = conn.getresponse()
        data = resp.read()
        if resp.will_close:
            self._connection(url, fresh=True)
        if resp.status not in ok:
            sys.exit(f"make_image: {method} {path} -> HTTP {resp.status}: {data[:300]!r}")
        return resp, data

    def upload(self, repository: str, chunks) -> tuple[str, int]:
        """Streams `chunks` into one blob: POST, PATCH (chunked, hashed on the way), PUT."""
        resp, _ = self.request("POST", f"/v2/{repository}/blobs/uploads/", body=b"")
        location = resp.getheader("Location")
        digest, size = hashlib.sha256(), 0

        def body():
            nonlocal size
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                yield chunk

        resp, _ = self.request("PATCH", location, body=body(), chunked=True,
                               headers={"Content-Type": "application/octet-stream"})
        location = resp.getheader("Location")
        name = "sha256:" + digest.hexdigest()
        sep = "&" if "?" in location else "?"
        self.request("PUT", f"{location}{sep}digest={urllib.parse.quote(name)}", body=b"",
                     headers={"Content-Length": "0"}, ok=(201,))
        return name, size

    def put_manifest(self, repository, reference, data: bytes, media_type: str):
        self.request("PUT", f"/v2/{repository}/manifests/{reference}", body=data,
                     headers={"Content-Type": media_type}, ok=(201,))


def layer(index: int, size: int, diff_ids: list):
    """A tar.gz with one file of `size` random bytes, as chunks; appends the tar's sha256."""
    info = tarfile.TarInfo(f"layer{index}/data.bin")
    info.size, info.mtime, info.mode = size, 0, 0o644
    tar_hash = hashlib.sha256()
    gzip_ = zlib.compressobj(0, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip framing, stored

    def tar_parts():
        yield info.tobuf(format=tarfile.PAX_FORMAT)
        left = size
        while left > 0:
            piece = os.urandom(min(CHUNK, left))
            left -= len(piece)
            yield piece
        yield b"\0" * ((512 - size % 512) % 512) + b"\0" * 1024  # padding, end of archive

    for part in tar_parts():
        tar_hash.update(part)
        out = gzip_.compress(part)
        if out:
            yield out
    yield gzip_.flush()
    diff_ids.append("sha256:" + tar_hash.hexdigest())


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def platform_manifest(registry, repository, platform, n_layers, layer_size):
    """Uploads one platform's layers and config; returns (manifest bytes, blob bytes)."""
    os_, arch, *variant = platform.split("/")
    layers, diff_ids, total = [], [], 0
    for i in range(n_layers):
        digest, size = registry.upload(repository, layer(i, layer_size, diff_ids))
        layers.append({"mediaType": OCI_LAYER, "digest": digest, "size": size})
        total += size
    config = {"architecture": arch, "os": os_, "config": {"Cmd": ["/bin/sh"]},
              "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    if variant:
        config["variant"] = variant[0]
    config = json.dumps(config, separators=(",", ":"), sort_keys=True).encode()
    config_digest, config_size = registry.upload(repository, [config])
    total += config_size
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_size},
        "layers": layers,
    }, indent=2).encode()
    return manifest, total


class Ecr:
    """The image as moto's ECR knows it (boto3, imported only when asked for)."""

    def __init__(self, region, repository_names):
        import boto3  # the stack's python has it
        from botocore.config import Config
        self.client = boto3.client("ecr", region_name=region,
                                   endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
                                   config=Config(max_pool_connections=32))
        for name in repository_names:
            try:
                self.client.describe_repositories(repositoryNames=[name])
            except self.client.exceptions.RepositoryNotFoundException:
                self.client.create_repository(repositoryName=name)

    def put(self, repository, data: bytes, media_type: str, tag=None):
        params = {"repositoryName": repository, "imageManifest": data.decode(),
                  "imageManifestMediaType": media_type, "imageDigest": sha256(data)}
        if tag:
            params["imageTag"] = tag
        try:
            self.client.put_image(**params)
        except self.client.exceptions.ImageAlreadyExistsException:
            if tag:  # the same image with the same tag again is fine; another image is not
                found = self.client.describe_images(repositoryName=repository,
                                                    imageIds=[{"imageTag": tag}])
                if found["imageDetails"][0]["imageDigest"] != sha256(data):
                    sys.exit(f"make_image: ECR: {repository}:{tag} names another image")


def push(registry, ecr, args, tag):
    started = time.monotonic()
    platforms = PLATFORMS[:args.platforms]
    total, children, entries = 0, [], []
    if args.platforms == 1:
        data, total = platform_manifest(registry, args.repository, platforms[0], args.layers,
                                        args.layer_size)
        media_type = OCI_MANIFEST
    else:
        for platform in platforms:
            child, size = platform_manifest(registry, args.repository, platform, args.layers,
                                            args.layer_size)
            total += size
            digest = sha256(child)
            registry.put_manifest(args.repository, digest, child, OCI_MANIFEST)
            if ecr:
                ecr.put(args.repository, child, OCI_MANIFEST)
            children.append(digest)
            os_, arch, *variant = platform.split("/")
            entry = {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(child),
                     "platform": {"architecture": arch, "os": os_}}
            if variant:
                entry["platform"]["variant"] = variant[0]
            entries.append(entry)
        data = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries},
                          indent=2).encode()
        media_type = OCI_INDEX
    digest = sha256(data)
    registry.put_manifest(args.repository, digest, data, media_type)
    if ecr:
        ecr.put(args.repository, data, media_type, tag)
    registry.put_manifest(args.repository, tag, data, media_type)
    return {"repository": args.repository, "tag": tag, "digest": digest, "mediaType": media_type,
            "size": total, "children": children,
            "seconds": round(time.monotonic() - started, 2)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--registry", required=True)
    ap.add_argument("--repository", required=True)
    ap.add_argument("--tag", required=True, help="with --count, contains {i}")
    ap.add_argument("--layers", type=int, default=1, help="per platform")
    ap.add_argument("--layer-size", type=int, default=1024, metavar="BYTES")
    ap.add_argument("--platforms", type=int, default=1, choices=range(1, len(PLATFORMS) + 1),
                    metavar="N", help="2 or more: an image index over N platform manifests")
    ap.add_argument("--ecr-region", metavar="REGION",
                    help="also record the images in moto's ECR ($AWS_ENDPOINT_URL) in REGION")
    ap.add_argument("--count", type=int, default=1, help="push this many distinct images")
    ap.add_argument("--jobs", type=int, default=1, help="images pushed at once (with --count)")
    args = ap.parse_args()
    if args.count > 1 and "{i}" not in args.tag:
        ap.error("--count needs a --tag with {i} in it")
    tags = [args.tag.format(i=i) for i in range(args.count)] if args.count > 1 else [args.tag]

    registry = Registry(args.registry)
    ecr = Ecr(args.ecr_region, [args.repository]) if args.ecr_region else None
    with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
        for result in pool.map(lambda tag: push(registry, ecr, args, tag), tags):
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
