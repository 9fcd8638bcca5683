#!/usr/bin/env python3
"""Pushes a random image of N tar.gz layers to an OCI registry, streaming.

scripts/testbed/push_image.py builds each layer in memory (the random payload, the tar, then
the gzip: about 3x the layer size at once) and gzips at level 9, which is slow on random data.
This generator streams: each layer is a real tar.gz (one file of random bytes; gzip level 0,
since random data does not compress) sent as one chunked PATCH while it is hashed, so memory
stays at a few MiB whatever the size.

    make_image.py --registry http://127.0.0.1:5000 --repository bench/large --tag v1 \
        --layers 8 --layer-size 134217728

Prints one JSON line: {"repository", "tag", "digest", "size"} (size: all blobs, in bytes).
An https:// registry is verified against the default store (SSL_CERT_FILE); the
REGISTRY_AUTHORIZATION environment variable, when set, is sent as the Authorization header.
"""
import argparse
import hashlib
import http.client
import json
import os
import sys
import tarfile
import time
import urllib.parse
import zlib

CHUNK = 1 << 20
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


class Registry:
    def __init__(self, base: str):
        url = urllib.parse.urlsplit(base)
        if url.scheme not in ("http", "https"):
            sys.exit(f"make_image: {base}: http:// or https:// only")
        self.base = base.rstrip("/")
        self.authorization = os.environ.get("REGISTRY_AUTHORIZATION")

    def request(self, method, target, body=None, headers=None, ok=(200, 201, 202), chunked=False):
        url = urllib.parse.urlsplit(urllib.parse.urljoin(self.base + "/", target))
        path = url.path + (f"?{url.query}" if url.query else "")
        if url.scheme == "https":
            conn = http.client.HTTPSConnection(url.hostname, url.port or 443, timeout=120)
        else:
            conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=120)
        headers = dict(headers or {})
        if self.authorization:
            headers["Authorization"] = self.authorization
        try:
            conn.request(method, path, body=body, headers=headers, encode_chunked=chunked)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--registry", required=True)
    ap.add_argument("--repository", required=True)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--layer-size", type=int, default=1024, metavar="BYTES")
    args = ap.parse_args()

    registry = Registry(args.registry)
    started = time.monotonic()
    layers, diff_ids, total = [], [], 0
    for i in range(args.layers):
        digest, size = registry.upload(args.repository, layer(i, args.layer_size, diff_ids))
        layers.append({"mediaType": OCI_LAYER, "digest": digest, "size": size})
        total += size
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }, separators=(",", ":"), sort_keys=True).encode()
    config_digest, config_size = registry.upload(args.repository, [config])
    total += config_size
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_size},
        "layers": layers,
    }, indent=2).encode()
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    for reference in (digest, args.tag):
        registry.request("PUT", f"/v2/{args.repository}/manifests/{reference}", body=manifest,
                         headers={"Content-Type": OCI_MANIFEST}, ok=(201,))
    print(json.dumps({"repository": args.repository, "tag": args.tag, "digest": digest,
                      "size": total, "seconds": round(time.monotonic() - started, 2)}))


if __name__ == "__main__":
    main()
