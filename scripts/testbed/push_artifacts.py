#!/usr/bin/env python3
"""Push artifact shapes that real tools make (buildx, cosign, notation, oras, helm, docker, crane)
to one region's test registry, and record every manifest in moto's ECR.

Run with the test bed's venv python (stdlib + boto3), with the stack's env loaded:

    set -a; . "$DIR/env"; set +a
    "$STEWARD_PYTHON" scripts/testbed/push_artifacts.py --region us-east-1 --shape all --seed 1

Each shape is laid out byte for byte as its tool writes it: media types, artifactType,
annotation keys, config media types, tag names, descriptor field order and JSON formatting
(Go's encoding/json: struct fields in declaration order, map keys sorted, `<>&` escaped;
compact or MarshalIndent as the tool calls it). Each builder names the source it follows.
Signatures, certificates and SBOM contents are placeholders of the right form, not
cryptographically valid.

Order of pushes, as push_image.py: blobs; every manifest PUT by digest to the registry, then
put_image to moto's ECR (exact bytes, imageDigest = their sha256; untagged unless it has a tag),
then PUT by tag; children before their index, subjects before their referrers. A manifest with
`subject` that oras or notation (oras-go) pushes to a registry without the referrers API (no
`OCI-Subject` answer header and GET /v2/<name>/referrers/<digest> != 200) also updates the
referrers tag schema index `sha256-<hex of subject>` as oras-go does: read the old index, push
the new one under the tag, delete the old one by digest (registry and ECR). buildkit's
attestation manifests with `subject` get no such index: its containerd pusher writes none.

Speed (the registries keep blobs in moto's S3, one Python process, so every registry request
costs several S3 calls): each shape's blobs upload on a pool of BLOB_WORKERS threads, and a
manifest waits for every blob its shape put before it (so blobs still precede their manifest);
up to SHAPE_WORKERS shapes run at once, each in its own repository with its own rng and clock,
and their lines are printed in the order of --shape. Connections are kept alive, one per thread
and origin. A blob whose upload PUT answers 201 with its Docker-Content-Digest is not checked
again with HEAD (push_image.py checks every blob); a blob this run already put to the repository
is not put or checked again. The ECR repositories are created in --shape order before any shape.

Prints one JSON line per shape:
    {"shape", "region", "repository", "tag", "digest", "mediaType",
     "manifests": [{"digest", "mediaType", "size", "tag", "subject"}],
     "blobs": [{"digest", "size", "mediaType"}], "foreign": [digests never pushed]}
and, for a shape the registry refused, the same with an "error" key (exit status 1).
"""
import argparse
import base64
import concurrent.futures
import datetime
import gzip
import hashlib
import http.client
import io
import json
import os
import random
import ssl
import sys
import tarfile
import threading
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import push_image as pi  # noqa: E402  (Registry, ecr_client, ensure_repository, ecr_put, sha256)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
EMPTY_JSON = b"{}"  # its digest is sha256:44136fa3...; descriptors carry it inline as "e30="
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
INTOTO = "application/vnd.in-toto+json"
DSSE = "application/vnd.dsse.envelope.v1+json"
COSIGN_SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
NOTARY_SIGNATURE = "application/vnd.cncf.notary.signature"
NOTARY_PAYLOAD = "application/vnd.cncf.notary.payload.v1+json"
SLSA02 = "https://slsa.dev/provenance/v0.2"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SPDX_DOCUMENT = "https://spdx.dev/Document"
ACCEPT = ", ".join((OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST,
                    "application/vnd.docker.distribution.manifest.v1+prettyjws"))

SHAPES = ("buildx", "buildx-artifact", "cosign-recursive", "oci-referrers", "helm", "zstd",
          "nested-index", "many-layers", "docker-list", "windows", "non-canonical")


# ------------------------------------------------------------------ Go-style JSON
def go_json(obj, indent=None) -> bytes:
    """encoding/json output: json.Marshal (compact) or json.MarshalIndent(v, "", indent).
    Field order is the caller's (Go struct order; maps sorted with smap). Go escapes <, >, &,
    U+2028 and U+2029 and writes other non-ASCII as UTF-8."""
    if indent is None:
        text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    else:
        text = json.dumps(obj, indent=indent, separators=(",", ": "), ensure_ascii=False)
    for raw, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                     ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, esc)
    return text.encode()


def smap(mapping: dict) -> dict:
    """A Go map: encoding/json writes its keys sorted."""
    return dict(sorted(mapping.items()))


def oci_desc(media_type, digest, size, *, urls=None, annotations=None, data=None, platform=None,
             artifact_type=None) -> dict:
    """image-spec specs-go v1.Descriptor order (buildkit, oras-go, notation-go, helm)."""
    d = {"mediaType": media_type, "digest": digest, "size": size}
    if urls:
        d["urls"] = urls
    if annotations:
        d["annotations"] = smap(annotations)
    if data is not None:
        d["data"] = base64.b64encode(data).decode()
    if platform:
        d["platform"] = platform
    if artifact_type:
        d["artifactType"] = artifact_type
    return d


def ggcr_desc(media_type, digest, size, *, annotations=None, platform=None) -> dict:
    """go-containerregistry v1.Descriptor order (cosign, crane, ko): mediaType, size, digest."""
    d = {"mediaType": media_type, "size": size, "digest": digest}
    if annotations:
        d["annotations"] = smap(annotations)
    if platform:
        d["platform"] = platform
    return d


def docker_desc(media_type, digest, size, *, urls=None, platform=None) -> dict:
    """docker/distribution's distribution.Descriptor order (docker push, docker manifest)."""
    d = {"mediaType": media_type, "size": size, "digest": digest}
    if urls:
        d["urls"] = urls
    if platform:
        d["platform"] = platform
    return d


def platform(os_, arch, variant=None, os_version=None) -> dict:
    """Platform order, the same in image-spec, ggcr and distribution's PlatformSpec."""
    p = {"architecture": arch, "os": os_}
    if os_version:
        p["os.version"] = os_version
    if variant:
        p["variant"] = variant
    return p


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def cbor(value) -> bytes:
    """Minimal CBOR (RFC 8949) encoder for COSE envelopes: int, bytes, str, list, dict, CborTag."""
    def head(major, n):
        if n < 24:
            return bytes([major << 5 | n])
        for extra, width in ((24, 1), (25, 2), (26, 4), (27, 8)):
            if n < 1 << (8 * width):
                return bytes([major << 5 | extra]) + n.to_bytes(width, "big")
        raise ValueError(n)
    if isinstance(value, CborTag):
        return head(6, value.tag) + cbor(value.value)
    if isinstance(value, bool):
        return b"\xf5" if value else b"\xf4"
    if isinstance(value, int):
        return head(0, value) if value >= 0 else head(1, -1 - value)
    if isinstance(value, bytes):
        return head(2, len(value)) + value
    if isinstance(value, str):
        raw = value.encode()
        return head(3, len(raw)) + raw
    if isinstance(value, list):
        return head(4, len(value)) + b"".join(cbor(v) for v in value)
    if isinstance(value, dict):
        return head(5, len(value)) + b"".join(cbor(k) + cbor(v) for k, v in value.items())
    raise TypeError(type(value))


class CborTag:
    def __init__(self, tag, value):
        self.tag, self.value = tag, value


def zstd_frame(data: bytes) -> bytes:
    """A real Zstandard frame (RFC 8878) made of Raw blocks: `zstd -d` restores `data`. Python
    3.11's stdlib has no zstd compressor, so the bytes are framed, not compressed."""
    out = bytearray(b"\x28\xb5\x2f\xfd")  # magic number 0xFD2FB528, little-endian
    out.append(0b1010_0000)  # Frame_Header_Descriptor: 4-byte content size, single segment
    out += len(data).to_bytes(4, "little")
    pos = 0
    while True:
        chunk = data[pos:pos + 128 * 1024]  # Block_Maximum_Size
        pos += len(chunk)
        last = pos >= len(data)
        out += (len(chunk) << 3 | 0 << 1 | int(last)).to_bytes(3, "little")  # Raw_Block
        out += chunk
        if last:
            return bytes(out)


def make_tar(rng: random.Random, files: dict[str, bytes], mtime=0) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, payload in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(payload), mtime, 0o644
            tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def fake_der(rng: random.Random, size: int) -> bytes:
    """Bytes shaped like a DER certificate (SEQUENCE, 2-byte length); not a certificate."""
    body = rng.randbytes(size - 4)
    return b"\x30\x82" + len(body).to_bytes(2, "big") + body


def fake_pem(rng: random.Random, count=1) -> str:
    out = ""
    for _ in range(count):
        b64 = base64.b64encode(fake_der(rng, 700)).decode()
        out += "-----BEGIN CERTIFICATE-----\n"
        out += "".join(b64[i:i + 64] + "\n" for i in range(0, len(b64), 64))
        out += "-----END CERTIFICATE-----\n"
    return out


def fake_ecdsa_sig(rng: random.Random) -> bytes:
    """An ASN.1 ECDSA-Sig-Value shape (P-256): SEQUENCE { INTEGER r, INTEGER s }."""
    return b"\x30\x45\x02\x20" + rng.randbytes(32) + b"\x02\x21\x00" + rng.randbytes(32)


# ------------------------------------------------------------------ registry + ECR bookkeeping
class RegistryError(Exception):
    pass


BLOB_WORKERS = 8   # blob uploads in flight, over all shapes
SHAPE_WORKERS = 4  # shapes pushed at once
REDIRECTS = (301, 302, 303, 307, 308)
CONTENT_HEADERS = ("content-length", "content-type")
USER_AGENT = "Python-urllib/%d.%d" % sys.version_info[:2]  # as push_image.py's urllib sends

_local = threading.local()  # per thread: {(scheme, netloc): keep-alive connection}
_tls_context = None
_tls_context_lock = threading.Lock()


def _https_context() -> ssl.SSLContext:
    """One context for every connection, made as http.client makes its own (the default
    context, which honours SSL_CERT_FILE, the stack's CA; ALPN http/1.1)."""
    global _tls_context
    with _tls_context_lock:
        if _tls_context is None:
            ctx = ssl._create_default_https_context()
            ctx.set_alpn_protocols(["http/1.1"])
            if ctx.post_handshake_auth is not None:
                ctx.post_handshake_auth = True
            _tls_context = ctx
        return _tls_context


def _send(scheme, netloc, method, path, data, headers):
    """One request on this thread's keep-alive connection to scheme://netloc. A connection the
    server closed while idle is opened again once."""
    conns = _local.__dict__.setdefault("conns", {})
    key = (scheme, netloc)
    for attempt in (0, 1):
        conn = conns.get(key)
        reused = conn is not None
        if conn is None:
            if scheme == "https":
                conn = http.client.HTTPSConnection(netloc, timeout=60, context=_https_context())
            elif scheme == "http":
                conn = http.client.HTTPConnection(netloc, timeout=60)
            else:
                raise RegistryError(f"{method} {scheme}://{netloc}{path}: unsupported scheme")
            conns[key] = conn
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
        except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
            # http.client.RemoteDisconnected is a ConnectionResetError
            conn.close()
            conns.pop(key, None)
            if reused and attempt == 0:
                continue
            raise
        except BaseException:
            conn.close()
            conns.pop(key, None)
            raise
        # An answer with "Connection: close" has closed the connection already; the next
        # request on it opens a new one.
        return resp.status, resp.headers, body


def _http(method, url, data, headers):
    """What push_image.py's urllib opener does, on kept-alive connections: follows redirects of
    GET and HEAD (and a 301/302/303 of a POST, as a GET), at most 10, and drops Authorization
    when a redirect leaves the origin (a blob HEAD is sent to a pre-signed S3 URL)."""
    for _ in range(11):
        parts = urllib.parse.urlsplit(url)
        path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        status, hdrs, body = _send(parts.scheme, parts.netloc, method, path, data, headers)
        location = hdrs.get("Location") or hdrs.get("URI")
        follow = (status in REDIRECTS and method in ("GET", "HEAD")) or \
            (status in (301, 302, 303) and method == "POST")
        if not follow or not location:
            return status, hdrs, body
        new_url = urllib.parse.urljoin(url, location)
        new = urllib.parse.urlsplit(new_url)
        if new.scheme not in ("http", "https"):
            return status, hdrs, body
        headers = {k: v for k, v in headers.items() if k.lower() not in CONTENT_HEADERS}
        if (parts.scheme, parts.netloc) != (new.scheme, new.netloc):
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        if method == "POST":
            method, data = "GET", None
        url = new_url
    return status, hdrs, body


class Registry(pi.Registry):
    """push_image's client on keep-alive connections (thread-safe: one connection per thread),
    with errors raised (a refused shape must not end the run), a blob upload confirmed by the
    PUT's answer, the answer headers of a manifest PUT (OCI-Subject), manifest GET/DELETE and
    the referrers probe."""

    def _req(self, method, url, data=None, headers=None, ok=(200,)):
        if not url.startswith("http"):
            url = self.base + url
        headers = {"User-Agent": USER_AGENT, **(headers or {})}
        if self.authorization:
            headers["Authorization"] = self.authorization
        status, hdrs, body = _http(method, url, data, headers)
        if status not in ok:
            raise RegistryError(f"{method} {url} -> HTTP {status}: {body[:500]!r}")
        return status, hdrs, body

    def put_blob(self, data: bytes) -> str:
        """push_image.Registry.put_blob, without its HEAD after the upload when the PUT's 201
        names the digest: the registry answers so only once it has the blob under it."""
        digest = pi.sha256(data)
        if not self.has_blob(digest):
            _, hdrs, _ = self._req("POST", f"/v2/{self.repo}/blobs/uploads/", data=b"", ok=(202,))
            location = urllib.parse.urljoin(self.base + "/", hdrs["Location"])
            sep = "&" if "?" in location else "?"
            url = f"{location}{sep}digest={urllib.parse.quote(digest)}"
            _, hdrs, _ = self._req("PUT", url, data=data, ok=(201,), headers={
                "Content-Type": "application/octet-stream",
                "Content-Length": str(len(data))})
            if hdrs.get("Docker-Content-Digest") != digest and not self.has_blob(digest):
                raise SystemExit(f"push_image: blob {digest} missing after upload")
        return digest

    def put(self, reference, data, media_type):
        _, hdrs, _ = self._req("PUT", f"/v2/{self.repo}/manifests/{reference}", data=data,
                               ok=(201,), headers={"Content-Type": media_type})
        served = hdrs.get("Docker-Content-Digest")
        if served and served != pi.sha256(data):
            raise RegistryError(f"registry says {served}, bytes hash to {pi.sha256(data)}")
        return hdrs

    def get(self, reference):
        status, _, body = self._req("GET", f"/v2/{self.repo}/manifests/{reference}",
                                    ok=(200, 404), headers={"Accept": ACCEPT})
        return body if status == 200 else None

    def delete(self, digest):
        self._req("DELETE", f"/v2/{self.repo}/manifests/{digest}", ok=(202, 404))

    def has_referrers_api(self, digest) -> bool:
        status, hdrs, _ = self._req("GET", f"/v2/{self.repo}/referrers/{digest}",
                                    ok=tuple(range(200, 600)), headers={"Accept": OCI_INDEX})
        return status == 200 and hdrs.get_content_type() == OCI_INDEX


class Pusher:
    """Pushes one shape's blobs and manifests and records them for the output line."""

    def __init__(self, reg: Registry, ecr, repository, rng, clock, ecr_host,
                 uploads: concurrent.futures.Executor):
        self.reg, self.ecr, self.repository = reg, ecr, repository
        self.rng, self.clock, self.ecr_host = rng, clock, ecr_host
        self.manifests: list[dict] = []
        self.blobs: dict[str, dict] = {}
        self.foreign: list[str] = []
        self.referrers_api = None  # unknown until the first manifest with a subject
        self.notes: list[str] = []  # stderr lines, printed before the shape's output line
        self.uploads = uploads  # the blob upload pool
        self.started: dict[str, concurrent.futures.Future] = {}  # digest -> its upload
        # (len(blobs) before the call, its upload), for drain()
        self.pending: list[tuple[int, concurrent.futures.Future]] = []

    def time(self, seconds=0) -> str:
        return (self.clock + datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def blob(self, data: bytes, media_type: str) -> tuple[str, int]:
        """Starts the blob's upload (once per digest) and returns its descriptor's digest and
        size at once; drain() waits for it."""
        digest = pi.sha256(data)
        if digest not in self.started:
            self.started[digest] = self.uploads.submit(self.reg.put_blob, data)
            self.pending.append((len(self.blobs), self.started[digest]))
        self.blobs.setdefault(digest, {"digest": digest, "size": len(data),
                                       "mediaType": media_type})
        return digest, len(data)

    def drain(self):
        """Waits for the blobs started so far. The first failure in the order the blobs were
        given is raised, with `blobs` as it was before that blob, as if they went one by one
        (the uploads after it are cancelled or waited for)."""
        pending, self.pending = self.pending, []
        for i, (mark, upload) in enumerate(pending):
            try:
                upload.result()
            except BaseException:
                rest = [later for _, later in pending[i + 1:]]
                for later in rest:
                    later.cancel()
                concurrent.futures.wait(rest)
                self.blobs = dict(list(self.blobs.items())[:mark])
                raise

    def manifest(self, data: bytes, media_type: str, tag=None, oras=False) -> tuple[str, int]:
        """PUT by digest, ECR put_image (tagged or not), PUT by tag; then, for a manifest with
        a subject pushed by an oras-go client (oras, notation) to a registry without the
        referrers API, the referrers tag schema index. buildkit pushes through containerd,
        whose pusher writes no such index (containerd core/remotes/docker: referrers.go only
        fetches)."""
        self.drain()  # its blobs (and those of its children, drained before them) first
        digest = pi.sha256(data)
        hdrs = self.reg.put(digest, data, media_type)
        if self.ecr:
            pi.ecr_put(self.ecr, self.repository, data, media_type, tag)
        if tag:
            self.reg.put(tag, data, media_type)
        parsed = json.loads(data)
        subject = (parsed.get("subject") or {}).get("digest")
        self._record(digest, media_type, len(data), tag, subject)
        if subject and oras:
            self._index_referrer(parsed, digest, media_type, len(data), subject, hdrs)
        return digest, len(data)

    def _record(self, digest, media_type, size, tag, subject):
        for entry in self.manifests:
            if entry["digest"] == digest:
                entry["tag"] = entry["tag"] or tag
                return
        self.manifests.append({"digest": digest, "mediaType": media_type, "size": size,
                               "tag": tag, "subject": subject})

    # oras-go registry/remote/repository.go: pushWithIndexing, indexReferrersForPush,
    # updateReferrersIndex, generateIndex; referrers.go: buildReferrersTag.
    def _index_referrer(self, parsed, digest, media_type, size, subject, hdrs):
        if hdrs.get("OCI-Subject"):
            self.referrers_api = True
        elif self.referrers_api is None:
            # The spec's signal is the OCI-Subject header; a front that lacks it but answers
            # the referrers API still gets no fallback index.
            self.referrers_api = self.reg.has_referrers_api(subject)
            if self.referrers_api:
                self.notes.append(f"push_artifacts: {self.repository}: no OCI-Subject header, "
                                  "but GET referrers answers: no referrers tag schema index")
        if self.referrers_api:
            return
        artifact_type = parsed.get("artifactType")
        if not artifact_type and media_type == OCI_MANIFEST:
            artifact_type = parsed["config"]["mediaType"]
        entry = oci_desc(media_type, digest, size, annotations=parsed.get("annotations"),
                         artifact_type=artifact_type)
        tag = subject.replace(":", "-", 1)
        old_bytes = self.reg.get(tag)
        old = []
        if old_bytes is not None:
            # oras-go decodes into ocispec descriptors and marshals them again
            for d in json.loads(old_bytes).get("manifests", []):
                old.append(oci_desc(d["mediaType"], d["digest"], d["size"], urls=d.get("urls"),
                                    annotations=d.get("annotations"),
                                    data=base64.b64decode(d["data"]) if "data" in d else None,
                                    platform=d.get("platform"),
                                    artifact_type=d.get("artifactType")))
        if any(d["digest"] == digest for d in old):  # errNoReferrerUpdate
            self._record(pi.sha256(old_bytes), OCI_INDEX, len(old_bytes), tag, None)
            return
        index = go_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": old + [entry]})
        self.manifest(index, OCI_INDEX, tag)
        if old_bytes is not None:
            old_digest = pi.sha256(old_bytes)
            self.reg.delete(old_digest)
            if self.ecr:
                self.ecr.batch_delete_image(repositoryName=self.repository,
                                            imageIds=[{"imageDigest": old_digest}])
            self.manifests = [m for m in self.manifests if m["digest"] != old_digest]

    def output(self, shape, region, top_digest, top_media_type, top_tag) -> dict:
        return {"shape": shape, "region": region, "repository": self.repository,
                "tag": top_tag, "digest": top_digest, "mediaType": top_media_type,
                "manifests": self.manifests, "blobs": list(self.blobs.values()),
                "foreign": self.foreign}


# ------------------------------------------------------------------ buildkit images
# moby/buildkit exporter/containerimage/writer.go (commitDistributionManifest: the manifest is
# json.MarshalIndent(mfst, "", "  "); patchImageConfig re-marshals the config as a Go map, so its
# top-level keys are sorted) and vendor/github.com/opencontainers/image-spec/specs-go/v1.
def buildkit_image(p: Pusher, plat: dict, layers=2, layer_size=512, compression="gzip", tag=None):
    """One image as buildkit pushes it; returns (manifest bytes, manifest digest)."""
    layer_descs, diff_ids, history = [], [], []
    for i in range(layers):
        tar = make_tar(p.rng, {f"app/layer{i}.bin": p.rng.randbytes(layer_size)})
        if compression == "zstd":
            blob, media = zstd_frame(tar), OCI_LAYER_ZSTD
        else:
            blob, media = gzip.compress(tar, mtime=0), OCI_LAYER_GZIP
        digest, size = p.blob(blob, media)
        layer_descs.append(oci_desc(media, digest, size))
        diff_ids.append(pi.sha256(tar))
        history.append({"created": p.time(i), "created_by": f"COPY layer{i}.bin /app/ # buildkit",
                        "comment": "buildkit.dockerfile.v0"})
    config = {"architecture": plat["architecture"],
              "config": {"Env": [PATH_ENV], "Cmd": ["/app/run"], "WorkingDir": "/app"},
              "created": p.time(layers), "history": history, "os": plat["os"],
              "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    if "variant" in plat:
        config["variant"] = plat["variant"]
    cfg = go_json(config)
    cfg_digest, cfg_size = p.blob(cfg, OCI_CONFIG)
    manifest = go_json({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                        "config": oci_desc(OCI_CONFIG, cfg_digest, cfg_size),
                        "layers": layer_descs}, indent=2)
    digest, _ = p.manifest(manifest, OCI_MANIFEST, tag)
    return manifest, digest


def purl(p: Pusher, tag, plat) -> str:
    """buildkit util/purl RefToPURL: the in-toto subject name of an image."""
    arch = plat["architecture"] + ("/" + plat["variant"] if "variant" in plat else "")
    return (f"pkg:docker/{p.ecr_host}/{p.repository}@{tag}"
            f"?platform={urllib.parse.quote(plat['os'] + '/' + arch, safe='')}")


def intoto_statements(p: Pusher, subject_name, digest) -> list[tuple[str, bytes]]:
    """buildkit's SBOM and provenance statements (in-toto-golang in_toto/attestations.go
    StatementHeader order: _type, predicateType, subject; then predicate; json.Marshal)."""
    subject = [{"name": subject_name, "digest": {"sha256": digest.split(":", 1)[1]}}]
    sbom = {"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
            "name": "/run/src/core/sbom",
            "documentNamespace": "https://anchore.com/syft/dir/run/src/core/sbom-"
                                 + p.rng.randbytes(16).hex(),
            "creationInfo": {"licenseListVersion": "3.22",
                             "creators": ["Organization: Anchore, Inc", "Tool: syft-v0.105.0",
                                          "Tool: buildkit-v0.13.2"],
                             "created": p.time(30)},
            "packages": [{"name": "busybox", "SPDXID": "SPDXRef-Package-apk-busybox",
                          "versionInfo": "1.36.1-r15", "downloadLocation": "NOASSERTION",
                          "licenseConcluded": "NOASSERTION", "licenseDeclared": "GPL-2.0-only"}],
            "relationships": [{"spdxElementId": "SPDXRef-DOCUMENT",
                               "relatedSpdxElement": "SPDXRef-Package-apk-busybox",
                               "relationshipType": "DESCRIBES"}]}
    provenance = {"builder": {"id": ""}, "buildType": "https://mobyproject.org/buildkit@v1",
                  "materials": [{"uri": "pkg:docker/alpine@3.19?platform=linux%2Famd64",
                                 "digest": {"sha256": p.rng.randbytes(32).hex()}}],
                  "invocation": {"configSource": {"entryPoint": "Dockerfile"},
                                 "parameters": {"frontend": "dockerfile.v0",
                                                "locals": [{"name": "context"},
                                                           {"name": "dockerfile"}]},
                                 "environment": {"platform": "linux/amd64"}},
                  "metadata": {"buildInvocationID": p.rng.randbytes(13).hex(),
                               "buildStartedOn": p.time(1), "buildFinishedOn": p.time(29),
                               "completeness": {"parameters": False, "environment": True,
                                                "materials": False},
                               "reproducible": False,
                               "https://mobyproject.org/buildkit@v1#metadata": {}}}
    out = []
    for predicate_type, predicate in ((SPDX_DOCUMENT, sbom), (SLSA02, provenance)):
        out.append((predicate_type, go_json({"_type": "https://in-toto.io/Statement/v0.1",
                                             "predicateType": predicate_type,
                                             "subject": subject, "predicate": predicate})))
    return out


# moby/buildkit exporter/containerimage/writer.go: commitAttestationsManifest (layers, legacy
# attestationsConfig or ocispecs.DescriptorEmptyJSON with artifactType + subject), the index
# loop (attestation manifests after the images, platform unknown/unknown from attestations.go
# intotoPlatform, annotations vnd.docker.reference.*); docs/attestations/attestation-storage.md;
# solver/llbsolver/compat/compat.go (oci-artifact is the default from compatibility version 30,
# buildkit v0.31; earlier buildkit, i.e. docker buildx as deployed, writes the legacy format).
def buildx_index(p: Pusher, tag, oci_artifact: bool):
    plats = [platform("linux", "amd64"), platform("linux", "arm64")]
    images, attestations = [], []
    for plat in plats:
        manifest, digest = buildkit_image(p, plat)
        images.append(oci_desc(OCI_MANIFEST, digest, len(manifest), platform=plat))
    for image in images:
        layers, diff_ids = [], []
        for predicate_type, statement in intoto_statements(
                p, purl(p, tag, image["platform"]), image["digest"]):
            digest, size = p.blob(statement, INTOTO)
            layers.append(oci_desc(INTOTO, digest, size,
                                   annotations={"in-toto.io/predicate-type": predicate_type}))
            diff_ids.append(digest)
        if oci_artifact:
            p.blob(EMPTY_JSON, OCI_EMPTY)
            manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                        "artifactType": "application/vnd.docker.attestation.manifest.v1+json",
                        "config": oci_desc(OCI_EMPTY, pi.sha256(EMPTY_JSON), 2, data=EMPTY_JSON),
                        "layers": layers,
                        "subject": oci_desc(OCI_MANIFEST, image["digest"], image["size"])}
        else:
            cfg = go_json({"architecture": "unknown", "os": "unknown", "config": {},
                           "rootfs": {"type": "layers", "diff_ids": diff_ids}})
            cfg_digest, cfg_size = p.blob(cfg, OCI_CONFIG)
            manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                        "config": oci_desc(OCI_CONFIG, cfg_digest, cfg_size), "layers": layers}
        data = go_json(manifest, indent=2)
        digest, size = p.manifest(data, OCI_MANIFEST)
        attestations.append(oci_desc(
            OCI_MANIFEST, digest, size,
            annotations={"vnd.docker.reference.digest": image["digest"],
                         "vnd.docker.reference.type": "attestation-manifest"},
            platform=platform("unknown", "unknown")))
    index = go_json({"schemaVersion": 2, "mediaType": OCI_INDEX,
                     "manifests": images + attestations}, indent=2)
    digest, _ = p.manifest(index, OCI_INDEX, tag)
    return digest, OCI_INDEX, [d["digest"] for d in images + attestations]


def shape_buildx(p: Pusher, tag):
    digest, media_type, _ = buildx_index(p, tag, oci_artifact=False)
    return digest, media_type


def shape_buildx_artifact(p: Pusher, tag):
    digest, media_type, _ = buildx_index(p, tag, oci_artifact=True)
    return digest, media_type


# ------------------------------------------------------------------ cosign
# sigstore/cosign pkg/oci/remote/remote.go (normalize: tag "sha256-<hex>.sig" / ".att"),
# pkg/oci/remote/options.go (suffixes), pkg/oci/empty/empty.go (OCI manifest + OCI config on
# go-containerregistry's empty.Image), pkg/oci/static/signature.go + options.go (annotation keys;
# the layer is the payload; diff_id = digest), pkg/oci/mutate/signatures.go (mutate.Append),
# pkg/oci/walk/walk.go (index before its children), cmd/cosign/cli/sign/sign.go (--recursive),
# cmd/cosign/cli/attest/attest.go (DSSE layer, predicateType annotation), pkg/types/*.go,
# pkg/cosign/bundle/rekor.go; google/go-containerregistry pkg/v1/manifest.go, config.go,
# mutate/image.go (descriptor order mediaType,size,digest; config keeps zero "created" times).
# This is cosign's tag scheme (cosign 2.x, or 3.x with --new-bundle-format=false); cosign 3's
# default bundle-as-referrer is not modelled.
def cosign_image(p: Pusher, payload: bytes, layer_media, annotations: dict) -> bytes:
    digest, size = p.blob(payload, layer_media)
    config = go_json({"architecture": "", "created": "0001-01-01T00:00:00Z",
                      "history": [{"created": "0001-01-01T00:00:00Z"}], "os": "",
                      "rootfs": {"type": "layers", "diff_ids": [digest]}, "config": {}})
    cfg_digest, cfg_size = p.blob(config, OCI_CONFIG)
    return go_json({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": ggcr_desc(OCI_CONFIG, cfg_digest, cfg_size),
                    "layers": [ggcr_desc(layer_media, digest, size, annotations=annotations)]})


# rekor.sigstore.dev's log ID
REKOR_LOG_ID = "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d"


def rekor_bundle(p: Pusher) -> str:
    return go_json({"SignedEntryTimestamp": base64.b64encode(fake_ecdsa_sig(p.rng)).decode(),
                    "Payload": {"body": base64.b64encode(p.rng.randbytes(600)).decode(),
                                "integratedTime": int(p.clock.timestamp()) + 60,
                                "logIndex": p.rng.randrange(10**8, 10**9),
                                "logID": REKOR_LOG_ID}}).decode()


def keyless_annotations(p: Pusher) -> dict:
    return {"dev.sigstore.cosign/bundle": rekor_bundle(p),
            "dev.sigstore.cosign/certificate": fake_pem(p.rng),
            "dev.sigstore.cosign/chain": fake_pem(p.rng, 2)}


def shape_cosign_recursive(p: Pusher, tag):
    top, media_type, children = buildx_index(p, tag, oci_artifact=False)
    reference = f"{p.ecr_host}/{p.repository}"
    for signed in [top] + children:  # walk.SignedEntity: the index, then each child
        payload = go_json({"critical": {"identity": {"docker-reference": reference},
                                        "image": {"docker-manifest-digest": signed},
                                        "type": "cosign container image signature"},
                           "optional": None})
        annotations = {"dev.cosignproject.cosign/signature":
                       base64.b64encode(fake_ecdsa_sig(p.rng)).decode(), **keyless_annotations(p)}
        p.manifest(cosign_image(p, payload, COSIGN_SIMPLESIGNING, annotations), OCI_MANIFEST,
                   signed.replace(":", "-", 1) + ".sig")
    statement = go_json({"_type": "https://in-toto.io/Statement/v1",
                         "subject": [{"name": reference,
                                      "digest": {"sha256": top.split(":", 1)[1]}}],
                         "predicateType": SLSA02,
                         "predicate": {
                             "builder": {"id": "https://github.com/org/repo/.github/workflows/"
                                               "release.yml@refs/heads/main"},
                             "buildType":
                                 "https://github.com/Attestations/GitHubActionsWorkflow@v1",
                             "invocation": {"configSource": {}}}})
    envelope = go_json({"payloadType": INTOTO,
                        "payload": base64.b64encode(statement).decode(),
                        "signatures": [{"keyid": "",
                                        "sig": base64.b64encode(fake_ecdsa_sig(p.rng)).decode()}]})
    annotations = {"dev.cosignproject.cosign/signature": "", "predicateType": SLSA02,
                   **keyless_annotations(p)}
    p.manifest(cosign_image(p, envelope, DSSE, annotations), OCI_MANIFEST,
               top.replace(":", "-", 1) + ".att")
    return top, media_type


# ------------------------------------------------------------------ OCI 1.1 referrers
# oras-project/oras-go pack.go (packManifestV1_1: empty config descriptor with data,
# org.opencontainers.image.created, json.Marshal), content/file/file.go (title annotation);
# oras-project/oras cmd/oras/root/attach.go + file.go (oras attach --artifact-type);
# notaryproject/notation-go registry/repository.go (uploadSignatureManifest -> PackManifest 1.1,
# artifactType application/vnd.cncf.notary.signature), registry/mediatype.go, notation.go
# (generateAnnotations: thumbprint#S256 = JSON list of sha256(cert), created = signing time),
# internal/envelope/envelope.go (payload {"targetArtifact"}); notaryproject/notation-core-go
# signature/jws/types.go + envelope.go (application/jose+json), signature/cose/envelope.go
# (application/cose).
def oras_manifest(p: Pusher, artifact_type, layer, subject, annotations) -> bytes:
    p.blob(EMPTY_JSON, OCI_EMPTY)
    return go_json({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
                    "config": oci_desc(OCI_EMPTY, pi.sha256(EMPTY_JSON), 2, data=EMPTY_JSON),
                    "layers": [layer], "subject": subject, "annotations": smap(annotations)})


def notation_signature(p: Pusher, subject: dict, envelope_type: str) -> bytes:
    """`application/jose+json`: the AWS Signer plugin's JWS (signingAuthority scheme, its
    extended attributes); `application/cose`: notation's own COSE_Sign1 with a local key."""
    certs = [fake_der(p.rng, 800) for _ in range(3)]
    payload = go_json({"targetArtifact": subject})
    signed_at = p.time(120)
    if envelope_type == "application/jose+json":
        profile = ("arn:aws:signer:us-east-1:123456789012:/signing-profiles/steward/"
                   + p.rng.randbytes(5).hex())
        protected = smap({
            "alg": "ES384", "cty": NOTARY_PAYLOAD,
            "crit": ["io.cncf.notary.authenticSigningTime", "io.cncf.notary.expiry",
                     "io.cncf.notary.signingScheme"],
            "io.cncf.notary.signingScheme": "notary.x509.signingAuthority",
            "io.cncf.notary.authenticSigningTime": signed_at,
            "io.cncf.notary.expiry": p.time(120 + 86400 * 365),
            "com.amazonaws.signer.signingProfileVersion": profile,
            "com.amazonaws.signer.signingJob":
                f"{profile}/signing-jobs/{p.rng.randbytes(16).hex()}"})
        agent = "notation-go/1.3.2 com.amazonaws.signer.notation.plugin/1.0.298"
        envelope = go_json({"payload": b64url(payload), "protected": b64url(go_json(protected)),
                            "header": {"x5c": [base64.b64encode(c).decode() for c in certs],
                                       "io.cncf.notary.signingAgent": agent},
                            "signature": b64url(p.rng.randbytes(96))})
    else:  # COSE_Sign1: CBOR tag 18 over [protected bstr, unprotected map, payload, signature]
        protected = cbor({1: -37, 2: ["io.cncf.notary.signingScheme"], 3: NOTARY_PAYLOAD,
                          "io.cncf.notary.signingScheme": "notary.x509",
                          "io.cncf.notary.signingTime": CborTag(1, int(p.clock.timestamp()) + 120)})
        unprotected = {33: certs, "io.cncf.notary.signingAgent": "notation-go/1.3.2"}
        envelope = cbor(CborTag(18, [protected, unprotected, payload, p.rng.randbytes(384)]))
    digest, size = p.blob(envelope, envelope_type)
    thumbprints = go_json([hashlib.sha256(c).hexdigest() for c in certs]).decode()
    return oras_manifest(p, NOTARY_SIGNATURE, oci_desc(envelope_type, digest, size), subject,
                         {"io.cncf.notary.x509chain.thumbprint#S256": thumbprints,
                          "org.opencontainers.image.created": signed_at})


def shape_oci_referrers(p: Pusher, tag):
    # docker buildx build --provenance=false --push -t REPO:TAG
    image, image_digest = buildkit_image(p, platform("linux", "amd64"), tag=tag)
    image_subject = oci_desc(OCI_MANIFEST, image_digest, len(image))
    # oras attach --artifact-type application/spdx+json IMAGE sbom.spdx.json:application/spdx+json
    sbom = go_json({"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0",
                    "SPDXID": "SPDXRef-DOCUMENT", "name": p.repository,
                    "documentNamespace": f"https://example.com/spdx/{p.rng.randbytes(8).hex()}",
                    "creationInfo": {"created": p.time(60), "creators": ["Tool: syft-1.4.1"]},
                    "packages": []}, indent=1)
    digest, size = p.blob(sbom, "application/spdx+json")
    sbom_manifest = oras_manifest(
        p, "application/spdx+json",
        oci_desc("application/spdx+json", digest, size,
                 annotations={"org.opencontainers.image.title": "sbom.spdx.json"}),
        image_subject, {"org.opencontainers.image.created": p.time(61)})
    sbom_digest, sbom_size = p.manifest(sbom_manifest, OCI_MANIFEST, oras=True)
    # notation sign --plugin com.amazonaws.signer.notation.plugin REPO@SBOM (JWS)
    p.manifest(notation_signature(p, oci_desc(OCI_MANIFEST, sbom_digest, sbom_size),
                                  "application/jose+json"), OCI_MANIFEST, oras=True)
    # notation sign --signature-format cose REPO@IMAGE
    p.manifest(notation_signature(p, image_subject, "application/cose"), OCI_MANIFEST, oras=True)
    return image_digest, OCI_MANIFEST


# ------------------------------------------------------------------ helm
# helm/helm pkg/registry/client.go (Push: chart layer + config pushed with oras, layers sorted,
# tagManifest: ocispec.Manifest WITHOUT mediaType, json.Marshal), pkg/registry/constants.go
# (media types), pkg/registry/chart.go (generateChartOCIAnnotations), pkg/registry/reference.go
# (tag = version with "+" replaced by "_"), pkg/chart/v2/metadata.go (config = Chart.yaml as JSON).
def shape_helm(p: Pusher, tag):
    name = p.repository.rsplit("/", 1)[-1]
    version = tag.replace("_", "+")
    chart_yaml = (f"apiVersion: v2\nname: {name}\ndescription: A Helm chart for Kubernetes\n"
                  f"type: application\nversion: {version}\nappVersion: \"1.16.0\"\n").encode()
    mtime = int(p.clock.timestamp())
    tgz = gzip.compress(make_tar(p.rng, {
        f"{name}/Chart.yaml": chart_yaml,
        f"{name}/values.yaml": b"replicaCount: 1\nimage:\n  repository: nginx\n  tag: \"\"\n",
        f"{name}/templates/deployment.yaml": b"apiVersion: apps/v1\nkind: Deployment\n"
                                             b"metadata:\n  name: {{ .Release.Name }}\n",
        f"{name}/.helmignore": b".git/\n*.swp\n"}, mtime=mtime), mtime=mtime)
    chart_media = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
    config_media = "application/vnd.cncf.helm.config.v1+json"
    chart_digest, chart_size = p.blob(tgz, chart_media)
    description = "A Helm chart for Kubernetes"
    config = go_json({"name": name, "version": version, "description": description,
                      "apiVersion": "v2", "appVersion": "1.16.0", "type": "application"})
    cfg_digest, cfg_size = p.blob(config, config_media)
    manifest = go_json({"schemaVersion": 2, "config": oci_desc(config_media, cfg_digest, cfg_size),
                        "layers": [oci_desc(chart_media, chart_digest, chart_size)],
                        "annotations": smap({"org.opencontainers.image.created": p.time(),
                                             "org.opencontainers.image.description": description,
                                             "org.opencontainers.image.title": name,
                                             "org.opencontainers.image.version": version})})
    digest, _ = p.manifest(manifest, OCI_MANIFEST, version.replace("+", "_"))
    return digest, OCI_MANIFEST


# ------------------------------------------------------------------ single images
def shape_zstd(p: Pusher, tag):
    # buildkit --output type=image,compression=zstd,force-compression=true --provenance=false:
    # writer.go as above; the layer media type from image-spec specs-go/v1/mediatype.go.
    _, digest = buildkit_image(p, platform("linux", "amd64"), layers=3, compression="zstd", tag=tag)
    return digest, OCI_MANIFEST


def shape_many_layers(p: Pusher, tag):
    # buildkit (writer.go as above) with 60 layers of a few dozen bytes each.
    _, digest = buildkit_image(p, platform("linux", "amd64"), layers=60, layer_size=48, tag=tag)
    return digest, OCI_MANIFEST


# google/go-containerregistry cmd/crane/cmd/index.go (crane index append: empty.Index + mutate.
# AppendManifests; an image's descriptor gets the platform from its config, an index's does
# not), pkg/v1/manifest.go, pkg/v1/platform.go, pkg/v1/config.go; images as ko/crane write them.
def ggcr_image(p: Pusher, plat):
    tar = make_tar(p.rng, {"ko-app/app": p.rng.randbytes(700)})
    blob = gzip.compress(tar, mtime=0)
    digest, size = p.blob(blob, OCI_LAYER_GZIP)
    config = {"architecture": plat["architecture"], "created": "0001-01-01T00:00:00Z",
              "history": [{"created": "0001-01-01T00:00:00Z", "created_by": "ko build",
                           "comment": "go build output, at /ko-app/app"}],
              "os": plat["os"], "rootfs": {"type": "layers", "diff_ids": [pi.sha256(tar)]},
              "config": {"Entrypoint": ["/ko-app/app"],
                         "Env": ["PATH=/ko-app:/usr/local/bin:/usr/bin:/bin"], "User": "65532"}}
    if "variant" in plat:
        config["variant"] = plat["variant"]
    cfg = go_json(config)
    cfg_digest, cfg_size = p.blob(cfg, OCI_CONFIG)
    manifest = go_json({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                        "config": ggcr_desc(OCI_CONFIG, cfg_digest, cfg_size),
                        "layers": [ggcr_desc(OCI_LAYER_GZIP, digest, size)]})
    digest, size = p.manifest(manifest, OCI_MANIFEST)
    return ggcr_desc(OCI_MANIFEST, digest, size, platform=plat)


def shape_nested_index(p: Pusher, tag):
    inner = go_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        ggcr_image(p, platform("linux", "amd64")),
        ggcr_image(p, platform("linux", "arm64", variant="v8"))]})
    inner_digest, inner_size = p.manifest(inner, OCI_INDEX)
    outer = go_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        ggcr_desc(OCI_INDEX, inner_digest, inner_size),
        ggcr_image(p, platform("linux", "s390x"))]})
    digest, _ = p.manifest(outer, OCI_INDEX, tag)
    return digest, OCI_INDEX


# ------------------------------------------------------------------ Docker schema2
# docker/distribution v2.8.2 manifest/schema2/manifest.go and manifest/manifestlist/
# manifestlist.go (FromStruct / FromDescriptors: json.MarshalIndent(m, "", "   ")),
# blobs.go (Descriptor order), manifest/versioned.go; what `docker push` and
# `docker manifest create/push` write through it.
def docker_image(p: Pusher, plat, foreign_base=None):
    layers, diff_ids, history = [], [], []
    if foreign_base:  # mcr.microsoft.com base layer: referenced, never uploaded
        fdigest = "sha256:" + p.rng.randbytes(32).hex()
        fsize = p.rng.randrange(1_200_000_000, 1_600_000_000)
        url = f"https://mcr.microsoft.com/v2/{foreign_base}/blobs/{fdigest}"
        layers.append(docker_desc(DOCKER_FOREIGN, fdigest, fsize, urls=[url]))
        diff_ids.append("sha256:" + p.rng.randbytes(32).hex())
        history.append({"created": "2024-02-06T21:33:08.4183466Z",
                        "created_by": "Apply image 10.0 base"})
        p.foreign.append(fdigest)
    for i in range(2):
        path = f"{'Files/' if foreign_base else ''}app/part{i}.bin"
        tar = make_tar(p.rng, {path: p.rng.randbytes(900)})
        blob = gzip.compress(tar, mtime=0)
        digest, size = p.blob(blob, DOCKER_LAYER)
        layers.append(docker_desc(DOCKER_LAYER, digest, size))
        diff_ids.append(pi.sha256(tar))
        step = (f"cmd /S /C #(nop) COPY part{i}.bin app/" if foreign_base
                else f"/bin/sh -c #(nop) COPY part{i}.bin /app/")
        history.append({"created": p.time(i), "created_by": step})
    if foreign_base:
        run_config = {"Cmd": ["c:\\windows\\system32\\cmd.exe"]}
    else:
        run_config = {"Env": [PATH_ENV], "Cmd": ["/bin/sh"]}
    config = {"architecture": plat["architecture"], "config": run_config,
              "created": p.time(5), "history": history, "os": plat["os"],
              "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    if "os.version" in plat:
        config["os.version"] = plat["os.version"]
    if "variant" in plat:
        config["variant"] = plat["variant"]
    cfg = go_json(config)
    cfg_digest, cfg_size = p.blob(cfg, DOCKER_CONFIG)
    manifest = go_json({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
                        "config": docker_desc(DOCKER_CONFIG, cfg_digest, cfg_size),
                        "layers": layers}, indent=3)
    digest, size = p.manifest(manifest, DOCKER_MANIFEST)
    return docker_desc(DOCKER_MANIFEST, digest, size, platform=plat)


def shape_docker_list(p: Pusher, tag):
    entries = [docker_image(p, platform("linux", "amd64")),
               docker_image(p, platform("linux", "arm64", variant="v8"))]
    data = go_json({"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": entries}, indent=3)
    digest, _ = p.manifest(data, DOCKER_LIST, tag)
    return digest, DOCKER_LIST


def shape_windows(p: Pusher, tag):
    # Two Windows images on mcr.microsoft.com/windows/servercore bases (ltsc2019, ltsc2022), as
    # `docker push` leaves them (foreign base layer kept as a descriptor with urls), and the
    # `docker manifest create` list over them (platform with os.version).
    entries = [docker_image(p, platform("windows", "amd64", os_version="10.0.17763.5458"),
                            foreign_base="windows/servercore"),
               docker_image(p, platform("windows", "amd64", os_version="10.0.20348.2322"),
                            foreign_base="windows/servercore")]
    data = go_json({"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": entries}, indent=3)
    digest, _ = p.manifest(data, DOCKER_LIST, tag)
    return digest, DOCKER_LIST


# ------------------------------------------------------------------ non-canonical JSON
# No tool: hand-written JSON that is valid but not what any encoder writes (CRLF, tabs, spaces
# around ':', keys out of order, "\/", "\u003c"-style escapes, raw UTF-8, a trailing newline).
# A copier that parses and re-serialises changes the digest.
def shape_non_canonical(p: Pusher, tag):
    tar = make_tar(p.rng, {"data.txt": p.rng.randbytes(300)})
    layer = gzip.compress(tar, mtime=0)
    l_digest, l_size = p.blob(layer, OCI_LAYER_GZIP)
    cfg = ('{ "rootfs": {"diff_ids": ["%s"], "type": "layers"},\n  "os": "linux",\n'
           '  "architecture": "amd64" }\n' % pi.sha256(tar)).encode()
    c_digest, c_size = p.blob(cfg, OCI_CONFIG)
    manifest = (
        '{\r\n\t"layers" : [ {\r\n\t\t"size" : %d, "digest" : "%s",\r\n'
        '\t\t"mediaType" : "application\\/vnd.oci.image.layer.v1.tar+gzip" } ],\r\n'
        '\t"annotations" : {\r\n'
        '\t\t"org.opencontainers.image.description" : '
        '"\\u003cb\\u003eR\\u00e9sum\\u00e9\\u003c/b\\u003e \\u0026 co",\r\n'
        '\t\t"org.opencontainers.image.title" : "caf\u00e9 \u2014 \\ud83d\\udce6 \\\\ \\"q\\""'
        '\r\n\t},\r\n'
        '\t"config" : {"digest":"%s","size":%d,'
        '"mediaType":"application/vnd.oci.image.config.v1+json"},\r\n'
        '\t"schemaVersion" : 2,\r\n'
        '\t"mediaType" : "application/vnd.oci.image.manifest.v1+json"\r\n}\r\n'
        % (l_size, l_digest, c_digest, c_size)).encode()
    m_digest, m_size = p.manifest(manifest, OCI_MANIFEST)
    index = ('{"manifests":\n    [\n        {"size":%d,\n'
             '         "platform": {"os":"linux", "architecture":"amd64"},\n'
             '         "mediaType":"application\\u002fvnd.oci.image.manifest.v1+json", '
             '"digest":"%s"}\n    ],\n'
             '    "annotations":{"org.opencontainers.image.ref.name":'
             '"\\u003e\\u003d1.0 \u00fcber"},\n'
             '    "mediaType":"application/vnd.oci.image.index.v1+json",    "schemaVersion":2}\n'
             % (m_size, m_digest)).encode()
    digest, _ = p.manifest(index, OCI_INDEX, tag)
    return digest, OCI_INDEX


BUILDERS = {"buildx": shape_buildx, "buildx-artifact": shape_buildx_artifact,
            "cosign-recursive": shape_cosign_recursive, "oci-referrers": shape_oci_referrers,
            "helm": shape_helm, "zstd": shape_zstd, "nested-index": shape_nested_index,
            "many-layers": shape_many_layers, "docker-list": shape_docker_list,
            "windows": shape_windows, "non-canonical": shape_non_canonical}
DEFAULT_TAGS = {"helm": "0.1.0_ci.7"}  # helm: chart version 0.1.0+ci.7


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shape", action="append", required=True, choices=SHAPES + ("all",),
                    help="repeatable; 'all' pushes every shape")
    ap.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    ap.add_argument("--registry",
                    help="OCI registry base URL (default: $STEWARD_REGISTRY_<REGION>)")
    ap.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"),
                    help="moto endpoint (default: $AWS_ENDPOINT_URL)")
    ap.add_argument("--repository", help="default artifacts/<shape>; with several shapes, "
                    "each goes to <repository>/<shape>")
    ap.add_argument("--tag", help="tag of each shape's top manifest (default v1; helm: its chart "
                    "version with '+' written '_', default 0.1.0_ci.7)")
    ap.add_argument("--seed", help="reproducible output: same seed and arguments, same digests")
    ap.add_argument("--no-ecr", action="store_true", help="registry only; skip moto put_image")
    args = ap.parse_args()

    shapes = list(SHAPES) if "all" in args.shape else list(dict.fromkeys(args.shape))
    key = "STEWARD_REGISTRY_" + args.region.upper().replace("-", "_")
    registry = args.registry or os.environ.get(key)
    if not registry:
        ap.error(f"--registry not given and {key} not set (source the stack's env file)")

    # Registry credentials from ECR's GetAuthorizationToken, as push_image.py; the account in
    # its proxyEndpoint names the ECR host that signatures and SBOMs refer to (not the local
    # registry's port, so a seed gives the same digests on every stack).
    authorization, proxy = None, ""
    client = None
    try:
        client = pi.ecr_client(args.region, args.endpoint_url)
        data = client.get_authorization_token()["authorizationData"][0]
        authorization, proxy = f"Basic {data['authorizationToken']}", data.get("proxyEndpoint", "")
    except Exception as err:  # no moto: fall back to the stack's credentials, if any
        if not args.no_ecr:
            raise
        print(f"push_artifacts: GetAuthorizationToken failed ({err}); using "
              "TESTBED_REGISTRY_CREDENTIALS", file=sys.stderr)
        creds = os.environ.get("TESTBED_REGISTRY_CREDENTIALS")
        if creds:
            authorization = "Basic " + base64.b64encode(creds.encode()).decode()
    account = (urllib.parse.urlsplit(proxy).hostname or "").split(".")[0]
    if not account.isdigit():
        account = "123456789012"
    ecr_host = f"{account}.dkr.ecr.{args.region}.amazonaws.com"

    # Every shape's repository, tag, rng and clock, in --shape order; the ECR repositories are
    # created in that order before any shape runs, so ECR lists them as a one-by-one run does.
    jobs = []
    for shape in shapes:
        if args.repository and len(shapes) == 1:
            repository = args.repository
        else:
            repository = f"{args.repository or 'artifacts'}/{shape}"
        tag = args.tag.replace("+", "_") if args.tag else DEFAULT_TAGS.get(shape, "v1")
        if args.seed is not None:
            rng = random.Random(f"{args.seed}/{shape}")
            clock = datetime.datetime(2025, 3, 14, 9, 26, 53, tzinfo=datetime.timezone.utc) + \
                datetime.timedelta(seconds=rng.randrange(86400 * 365))
        else:
            rng = random.Random(os.urandom(16))
            clock = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        jobs.append((shape, repository, tag, rng, clock))
    ecr = None
    if not args.no_ecr:
        ecr = client  # boto3 clients are thread-safe
        for _, repository, _, _, _ in jobs:
            pi.ensure_repository(ecr, repository)

    uploads = concurrent.futures.ThreadPoolExecutor(BLOB_WORKERS, thread_name_prefix="blob")

    def push(shape, repository, tag, rng, clock):
        """One shape; returns (stderr notes, output line, error text or None, exception)."""
        reg = Registry(registry, repository, authorization)
        p = Pusher(reg, ecr, repository, rng, clock, ecr_host, uploads)
        try:
            digest, media_type = BUILDERS[shape](p, tag)
            p.drain()
            return p.notes, p.output(shape, args.region, digest, media_type, tag), None, None
        except RegistryError as err:
            line = p.output(shape, args.region, None, None, tag)
            line["error"] = str(err)
            return p.notes, line, str(err), None
        except BaseException as exc:  # re-raised by the main thread, in --shape order
            return p.notes, None, None, exc
        finally:
            concurrent.futures.wait([upload for _, upload in p.pending])

    failed = False
    with concurrent.futures.ThreadPoolExecutor(min(SHAPE_WORKERS, len(jobs)),
                                               thread_name_prefix="shape") as pool:
        results = [pool.submit(push, *job) for job in jobs]
        for (shape, *_), result in zip(jobs, results):
            notes, line, error, exc = result.result()
            for note in notes:
                print(note, file=sys.stderr, flush=True)
            if exc is not None:
                for later in results:
                    later.cancel()
                raise exc
            print(json.dumps(line), flush=True)
            if error is not None:
                failed = True
                print(f"push_artifacts: {shape}: {error}", file=sys.stderr)
    uploads.shutdown()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
