#!/usr/bin/env python3
"""A reverse proxy in front of one docker-registry (distribution 2.8) that adds the OCI
Distribution 1.1 referrers API, as ECR's registry answers it. See scripts/README.md,
"Registry flavors". Python stdlib only.

    referrers_front.py --listen 127.0.0.1:PORT --upstream https://127.0.0.1:PORT2 --cafile CA \
        [--certfile PEM --keyfile KEY] [--state FILE] [--page-size N] [--refuse-index-subjects]

Every request goes upstream unchanged and its answer comes back unchanged, bodies streamed.
Besides that:
- a successful manifest PUT whose body has a `subject` is recorded under (repository, subject
  digest) and answered with `OCI-Subject`; a successful manifest DELETE removes the digest;
- GET /v2/<name>/referrers/<digest>[?artifactType=T][&last=D&n=N] lists what was recorded,
  after checking the caller's credentials with a GET /v2/ upstream.
"""
import argparse
import hashlib
import http.client
import http.server
import itertools
import json
import os
import re
import socketserver
import ssl
import sys
import threading
import urllib.parse

CHUNK = 64 * 1024
MAX_MANIFEST = 4 << 20  # distribution's own limit on a manifest PUT body
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
INDEX_TYPES = {INDEX_TYPE, "application/vnd.docker.distribution.manifest.list.v2+json"}
# Framing and connection headers of one hop; the front frames each side itself. Expect is
# answered by the front (100 Continue) before it reads the body.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade",
              "transfer-encoding", "expect"}
REFERRERS = re.compile(r"^/v2/(?P<name>.+)/referrers/(?P<digest>[^/]+)$")
MANIFEST = re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<reference>[^/]+)$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def log(message):
    print(f"referrers_front: {message}", file=sys.stderr, flush=True)


class BadRequest(Exception):
    pass


class ClientGone(ConnectionError):
    pass


class Index:
    """{repository: {subject digest: [descriptors, in the order pushed]}}, kept in memory
    and written whole to the state file after each change."""

    def __init__(self, state):
        self.state = state
        self.lock = threading.Lock()
        self.repos = {}
        if state and os.path.exists(state):
            with open(state, encoding="utf-8") as f:
                self.repos = json.load(f)

    def add(self, repo, subject, descriptor):
        with self.lock:
            entries = self.repos.setdefault(repo, {}).setdefault(subject, [])
            if all(d["digest"] != descriptor["digest"] for d in entries):
                entries.append(descriptor)
                self.save()

    def remove(self, repo, digest):
        with self.lock:
            subjects = self.repos.get(repo, {})
            changed = False
            for subject in list(subjects):
                kept = [d for d in subjects[subject] if d["digest"] != digest]
                if len(kept) != len(subjects[subject]):
                    changed = True
                    if kept:
                        subjects[subject] = kept
                    else:
                        del subjects[subject]
            if changed:
                self.save()

    def get(self, repo, subject):
        with self.lock:
            return list(self.repos.get(repo, {}).get(subject, []))

    def save(self):
        if not self.state:
            return
        tmp = f"{self.state}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.repos, f, indent=1)
        os.replace(tmp, self.state)


def describe(body, content_type, digest):
    """The referrers-list descriptor of a manifest with a subject (OCI distribution spec)."""
    doc = json.loads(body)
    descriptor = {
        "mediaType": content_type or doc.get("mediaType"),
        "digest": digest or "sha256:" + hashlib.sha256(body).hexdigest(),
        "size": len(body),
    }
    config = doc.get("config") if isinstance(doc.get("config"), dict) else {}
    artifact_type = doc.get("artifactType") or config.get("mediaType")
    if artifact_type:
        descriptor["artifactType"] = artifact_type
    if isinstance(doc.get("annotations"), dict) and doc["annotations"]:
        descriptor["annotations"] = doc["annotations"]
    return descriptor


def subject_of(body):
    """The manifest's `subject` descriptor, or None (also for a body that is not JSON)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    subject = doc.get("subject") if isinstance(doc, dict) else None
    if isinstance(subject, dict) and isinstance(subject.get("digest"), str):
        return subject
    return None


class Front(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 300  # idle client connections are closed after this many seconds
    server: "Server"

    def setup(self):
        if self.server.tls:
            self.request.settimeout(self.timeout)
            self.request = self.server.tls.wrap_socket(self.request, server_side=True)
        super().setup()
        self.upstream = None

    def finish(self):
        try:
            super().finish()
        finally:
            if self.upstream:
                self.upstream.close()
            if self.server.tls:
                self.request.close()

    def log_message(self, format, *args):
        pass

    def dispatch(self):
        self.replied = False
        try:
            self.route()
        except BadRequest as err:
            self.close_connection = True
            if not self.replied:
                self.send_error_json(400, "UNSUPPORTED", str(err))
        except (OSError, http.client.HTTPException) as err:
            self.close_connection = True
            if isinstance(err, ClientGone) or self.replied:
                raise
            log(f"{self.command} {self.path}: upstream: {err}")
            self.send_error_json(502, "UNKNOWN", "upstream registry unreachable")

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = do_OPTIONS = dispatch

    def route(self):
        path, _, query = self.path.partition("?")
        match = REFERRERS.match(path)
        if match and self.command == "GET":
            for _ in self.body():
                pass
            return self.referrers(match["name"], match["digest"], query)
        match = MANIFEST.match(path)
        if match and self.command == "PUT":
            return self.put_manifest(match["name"])
        response = self.forward(self.command, self.path, self.headers.items(), self.body())
        if match and self.command == "DELETE" and 200 <= response.status < 300:
            self.server.index.remove(match["name"], match["reference"])
        self.relay(response)

    # ------------------------------------------------------------ request body
    def chunked(self):
        return "chunked" in self.headers.get("Transfer-Encoding", "").lower()

    def body(self):
        """Yields the request body as it arrives, from Content-Length or chunked framing."""
        if self.chunked():
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise ClientGone("client closed the connection mid-body")
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise BadRequest("malformed chunk size") from None
                if size == 0:
                    break
                yield from self.read_exactly(size)
                if self.rfile.readline(1024).strip():
                    raise BadRequest("malformed chunk end")
            while self.rfile.readline(1024).strip():  # trailers, dropped
                pass
        else:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                raise BadRequest("malformed Content-Length") from None
            yield from self.read_exactly(length)

    def read_exactly(self, n):
        while n > 0:
            data = self.rfile.read1(min(n, CHUNK))
            if not data:
                raise ClientGone("client closed the connection mid-body")
            n -= len(data)
            yield data

    # ------------------------------------------------------------ upstream
    def upstream_connection(self):
        if self.upstream is None:
            up = self.server.upstream
            if up.scheme == "https":
                self.upstream = http.client.HTTPSConnection(
                    up.hostname, up.port, timeout=self.timeout, context=self.server.upstream_tls)
            else:
                self.upstream = http.client.HTTPConnection(up.hostname, up.port, timeout=self.timeout)
        return self.upstream

    def forward(self, method, path, headers, body=None):
        """Sends one request upstream, its body (an iterable of bytes, framed as the client's
        was) streamed, and returns the response."""
        headers = list(headers)
        chunked = body is not None and self.chunked()
        length = "0" if body is None else self.headers.get("Content-Length", "0")
        reused = self.upstream is not None and self.upstream.sock is not None
        try:
            return self.send_upstream(method, path, headers, body or (), chunked)
        except ConnectionError:
            if not reused or chunked or length.strip() not in ("", "0"):
                raise
            # The upstream closed a kept-alive connection; one retry on a new one.
            self.upstream.close()
            return self.send_upstream(method, path, headers, (), chunked)

    def send_upstream(self, method, path, headers, body, chunked):
        conn = self.upstream_connection()
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        names = set()
        for name, value in headers:
            lower = name.lower()
            if lower in HOP_BY_HOP or (chunked and lower == "content-length"):
                continue
            names.add(lower)
            conn.putheader(name, value)
        if "host" not in names:
            conn.putheader("Host", f"{self.server.upstream.hostname}:{self.server.upstream.port}")
        if chunked:
            conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        try:
            for data in body:
                conn.send(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
            if chunked:
                conn.send(b"0\r\n\r\n")
        except (ClientGone, BadRequest):
            raise
        except OSError:
            # The upstream may have answered early (e.g. a 401) and closed: relay that answer,
            # and close the client connection, whose body is left unread.
            self.close_connection = True
        return conn.getresponse()

    # ------------------------------------------------------------ answers
    def relay(self, response, extra=()):
        no_body = self.command == "HEAD" or response.status in (204, 304) or response.status < 200
        rechunk = not no_body and response.getheader("Content-Length") is None
        self.replied = True
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        for name, value in extra:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        if rechunk:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if no_body:
            response.close()  # frees the upstream connection for the next request
            return
        while True:
            data = response.read1(CHUNK)
            if not data:
                break
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if rechunk else data)
        response.close()  # read1 leaves it open at the end of a Content-Length body
        if rechunk:
            self.wfile.write(b"0\r\n\r\n")

    def send_json(self, status, doc, content_type, extra=()):
        body = json.dumps(doc, separators=(",", ":")).encode()
        self.replied = True
        self.send_response_only(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
        for name, value in extra:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_error_json(self, status, code, message, detail=None):
        error = {"code": code, "message": message}
        if detail is not None:
            error["detail"] = detail
        self.send_json(status, {"errors": [error]}, "application/json; charset=utf-8")

    # ------------------------------------------------------------ the additions
    def put_manifest(self, name):
        chunks, size = [], 0
        body = self.body()
        for data in body:
            chunks.append(data)
            size += len(data)
            if size > MAX_MANIFEST:  # too big for the registry, which will say so
                response = self.forward("PUT", self.path, self.headers.items(),
                                        itertools.chain(chunks, body))
                return self.relay(response)
        manifest = b"".join(chunks)
        subject = subject_of(manifest)
        if (subject and self.server.refuse_index_subjects
                and subject.get("mediaType") in INDEX_TYPES):
            if not self.authorized():
                return
            return self.send_error_json(
                405, "UNSUPPORTED",
                "Invalid parameter at 'ImageManifest' failed to satisfy constraint: "
                "'subject must not refer to an image index'")
        response = self.forward("PUT", self.path, self.headers.items(), [manifest])
        extra = []
        if subject and 200 <= response.status < 300:
            content_type = self.headers.get("Content-Type", "").split(";")[0].strip()
            descriptor = describe(manifest, content_type,
                                  response.getheader("Docker-Content-Digest"))
            self.server.index.add(name, subject["digest"], descriptor)
            extra.append(("OCI-Subject", subject["digest"]))
        self.relay(response, extra)

    def authorized(self):
        """Checks the caller's credentials with a GET /v2/ upstream; relays a refusal."""
        auth = [(k, v) for k, v in self.headers.items() if k.lower() in ("host", "authorization")]
        response = self.forward("GET", "/v2/", auth)
        if response.status != 200:
            self.relay(response)
            return False
        response.read()
        return True

    def referrers(self, name, digest, query):
        if not self.authorized():
            return
        if not DIGEST.match(digest):
            return self.send_error_json(400, "DIGEST_INVALID", "invalid digest", {"digest": digest})
        params = urllib.parse.parse_qs(query)
        entries = self.server.index.get(name, digest)
        extra, carried = [], []
        types = params.get("artifactType")
        if types:
            entries = [d for d in entries if d.get("artifactType") in types]
            extra.append(("OCI-Filters-Applied", "artifactType"))
            carried = [("artifactType", t) for t in types]
        last = params.get("last", [None])[0]
        if last:
            seen = [d["digest"] for d in entries]
            entries = entries[seen.index(last) + 1:] if last in seen else []
        limit = self.server.page_size
        n = params.get("n", [""])[0]
        if n.isdigit() and int(n) > 0:
            limit = min(int(n), limit) if limit else int(n)
        if limit and len(entries) > limit:
            entries = entries[:limit]
            query = "&".join(f"{k}={urllib.parse.quote(str(v), safe=':')}" for k, v in
                             [("last", entries[-1]["digest"]), ("n", limit), *carried])
            extra.append(("Link", f'</v2/{name}/referrers/{digest}?{query}>; rel="next"'))
        index = {"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": entries}
        self.send_json(200, index, INDEX_TYPE, extra)


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 64

    def server_bind(self):  # without HTTPServer's reverse DNS lookup of the address
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        err = sys.exc_info()[1]
        if isinstance(err, (ConnectionError, TimeoutError, ssl.SSLError)):
            return  # a client that went away, or an upstream that did mid-answer
        log(f"{client_address[0]}:{client_address[1]}: {type(err).__name__}: {err}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", required=True, metavar="HOST:PORT")
    ap.add_argument("--upstream", required=True, metavar="URL", help="http:// or https://")
    ap.add_argument("--cafile", help="CA to verify an https upstream (default: the system's)")
    ap.add_argument("--certfile", help="serve TLS (HTTP/1.1 only) with this certificate")
    ap.add_argument("--keyfile")
    ap.add_argument("--state", help="JSON file the index is written to and loaded from")
    ap.add_argument("--page-size", type=int, default=0, help="referrers per answer; 0: all")
    ap.add_argument("--refuse-index-subjects", action="store_true",
                    help="405 to a manifest whose subject is an index, as ECR was reported to")
    args = ap.parse_args()

    upstream = urllib.parse.urlsplit(args.upstream)
    if upstream.scheme not in ("http", "https") or not upstream.hostname or not upstream.port:
        ap.error("--upstream must be http(s)://HOST:PORT")
    host, _, port = args.listen.rpartition(":")
    try:
        upstream_tls = ssl.create_default_context(cafile=args.cafile)
        upstream_tls.set_alpn_protocols(["http/1.1"])
        tls = None
        if args.certfile:
            tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            tls.load_cert_chain(args.certfile, args.keyfile)
            tls.set_alpn_protocols(["http/1.1"])
        index = Index(args.state)
        server = Server((host, int(port)), Front)
    except (OSError, ValueError) as err:
        log(f"cannot start: {err}")
        return 1
    server.upstream, server.upstream_tls, server.tls = upstream, upstream_tls, tls
    server.index = index
    server.page_size = max(args.page_size, 0)
    server.refuse_index_subjects = args.refuse_index_subjects
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
