//! A fault-injecting HTTP/1.1 proxy to put in front of a registry: it forwards requests and
//! answers byte for byte, records every request, and misbehaves on demand.
//!
//! A std `TcpListener` on 127.0.0.1:0 and a thread per client connection, each with its own
//! upstream connection (keep-alive on both sides). Bodies are forwarded as they arrive, framed
//! by `Content-Length` or `Transfer-Encoding: chunked` (a response with neither runs until the
//! upstream closes). The [`Fault`] can be changed at any time; it applies from the next request.
//!
//! The registry builds its upload `Location`s from the `Host` header, which is forwarded as
//! the client sent it, so uploads started through the proxy stay on the proxy.
//!
//! The upstream may be `https://` ([`FaultProxy::start_trusting`]): clients speak plain
//! HTTP/1.1 to the proxy, which speaks TLS (HTTP/1.1) to the registry. The ECR-like registries
//! of the test bed answer with relative `Location`s, so nothing names the upstream's scheme.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// How long the proxy waits on a silent socket before it gives the connection up.
const IDLE: Duration = Duration::from_secs(60);
const BUFFER: usize = 64 * 1024;
/// Longest request or status line, or header block, accepted.
const MAX_HEAD: usize = 64 * 1024;

/// What the proxy does to the requests that come next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forwards everything unchanged.
    PassThrough,
    /// Forwards the first `bytes` of each upload's body (a PATCH, or a PUT to
    /// `…/blobs/uploads/…`), then closes both connections, as if the registry died in the
    /// middle of an upload.
    DropUploadsAfter { bytes: u64 },
    /// Answers `503 Service Unavailable` to the next `requests` requests without forwarding
    /// them (their bodies are read and discarded), then passes through.
    Unavailable { requests: u32 },
    /// Answers 503 to every request.
    AlwaysUnavailable,
    /// Answers the next `requests` requests as an AWS service that throttles: `400` with the
    /// error code `ThrottlingException` (ECR's JSON protocol) or `Throttling` (SNS's query
    /// protocol, told by the request's form body), then passes through.
    Throttled { requests: u32 },
    /// Throttles every request so.
    AlwaysThrottled,
    /// Answers a bare `429 Too Many Requests`, with no AWS error code, to every request.
    AlwaysTooManyRequests,
    /// Flips one byte in the middle of the body of every successful blob GET
    /// (`GET …/blobs/sha256:…`): a source that serves corrupted content.
    CorruptBlobs,
    /// Forwards the first `bytes` of the body of every successful blob GET, then closes both
    /// connections: a source that goes away mid-download.
    DropDownloadsAfter { bytes: u64 },
    /// Answers every request whose body names `repository` (as a JSON string: an ECR call's
    /// `repositoryName` or `repositoryNames`) as ECR answers a call IAM denies: `400` with
    /// `AccessDeniedException` (the JSON protocol's error shape); forwards the others. moto
    /// does not enforce IAM, so this is how a test meets a denied repository.
    DenyRepository { repository: &'static str },
    /// Answers every manifest PUT by tag (not by digest) as ECR's registry answers one to an
    /// immutable repository: `400` with the OCI error code `TAG_INVALID`, whatever the tag
    /// names; forwards the others.
    ImmutableTags,
}

/// A quota on one kind of request, as ECR has per API action: over `per_second` (a token
/// bucket holding one second's worth), the proxy answers as ECR's registry does,
/// `429 Too Many Requests` with the OCI error code `TOOMANYREQUESTS`, without forwarding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// The method it counts (`PUT`).
    pub method: &'static str,
    /// A part of the path it counts (`/manifests/`).
    pub path: &'static str,
    /// Requests allowed per second.
    pub per_second: f64,
}

/// A [`RateLimit`] with its bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    limit: RateLimit,
    tokens: f64,
    at: std::time::Instant,
}

impl Bucket {
    fn take(&mut self, now: std::time::Instant) -> bool {
        let refill = now.duration_since(self.at).as_secs_f64() * self.limit.per_second;
        self.tokens = (self.tokens + refill).min(self.limit.per_second.max(1.0));
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// One request that reached the proxy, with what came of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The request target as sent (`/v2/<repo>/blobs/uploads/<id>?_state=…`).
    pub target: String,
    /// The status the client got with its whole answer; `None` when the proxy cut the
    /// connection during the request or its answer.
    pub status: Option<u16>,
    /// True when the proxy answered it, cut it or altered its answer ([`Fault`]).
    pub injected: bool,
    /// When its head had arrived.
    pub started: std::time::Instant,
    /// When its answer had been sent (or the connection cut).
    pub finished: std::time::Instant,
    /// The AWS JSON protocols' operation (`X-Amz-Target`'s last part, such as
    /// `DescribeImages`), when the request has one.
    pub operation: Option<String>,
}

impl Request {
    /// The target's path, without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or(&self.target)
    }

    /// True for a `HEAD`, and for a `GET …/manifests/…`: what a copy that finds everything in
    /// place sends to its destination.
    pub fn is_lookup(&self) -> bool {
        self.method == "HEAD" || (self.method == "GET" && self.path().contains("/manifests/"))
    }
}

impl std::fmt::Display for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self
            .status
            .map_or_else(|| "cut".to_string(), |s| s.to_string());
        write!(f, "{} {} -> {status}", self.method, self.path())?;
        if self.injected {
            f.write_str(" (injected)")?;
        }
        Ok(())
    }
}

struct State {
    fault: Fault,
    /// Waited before each request is forwarded or answered: a round trip's latency.
    delay: Duration,
    buckets: Vec<Bucket>,
    requests: Vec<Request>,
    /// Requests whose heads have arrived and that are not recorded yet.
    in_flight: usize,
    clients: Vec<TcpStream>,
    closed: bool,
}

/// Counts a request in flight from its head's arrival until it is recorded or its connection
/// gives up: a client may see the whole answer before the proxy records the request.
struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn enter(shared: &'a Shared) -> Self {
        shared.lock().in_flight += 1;
        Self(shared)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.lock().in_flight -= 1;
    }
}

struct Shared {
    upstream: SocketAddr,
    /// For an `https://` upstream: its TLS configuration and server name.
    tls: Option<(
        Arc<rustls::ClientConfig>,
        rustls::pki_types::ServerName<'static>,
    )>,
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record(&self, mut request: Request) {
        request.finished = std::time::Instant::now();
        self.lock().requests.push(request);
    }
}

/// A running proxy. Dropping it stops the proxy and closes its connections.
pub struct FaultProxy {
    address: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("address", &self.address)
            .field("upstream", &self.shared.upstream)
            .field("fault", &self.fault())
            .finish_non_exhaustive()
    }
}

impl FaultProxy {
    /// Starts a pass-through proxy on a free port in front of `upstream`, a URL such as
    /// `http://127.0.0.1:5000` (plain HTTP only).
    ///
    /// # Errors
    /// When the URL is not `http://HOST:PORT` or the port cannot be bound.
    pub fn start(upstream: &str) -> io::Result<Self> {
        let authority = authority(upstream, "http://")?;
        Self::launch(authority, None)
    }

    /// Starts a pass-through proxy in front of `upstream`, an `https://HOST:PORT` URL whose
    /// certificate chains to a root in the PEM file `ca` (the test bed's CA).
    ///
    /// # Errors
    /// When the URL is not `https://HOST:PORT`, the CA file does not load, or the port cannot
    /// be bound.
    pub fn start_trusting(upstream: &str, ca: &std::path::Path) -> io::Result<Self> {
        use rustls::pki_types::pem::PemObject;
        let authority = authority(upstream, "https://")?;
        let invalid = |message: String| io::Error::new(io::ErrorKind::InvalidInput, message);
        let mut roots = rustls::RootCertStore::empty();
        for certificate in rustls::pki_types::CertificateDer::pem_file_iter(ca)
            .map_err(|e| invalid(format!("{}: {e}", ca.display())))?
        {
            let certificate = certificate.map_err(|e| invalid(format!("{}: {e}", ca.display())))?;
            roots
                .add(certificate)
                .map_err(|e| invalid(format!("{}: {e}", ca.display())))?;
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let host = authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host);
        let name = rustls::pki_types::ServerName::try_from(host.to_string())
            .map_err(|e| invalid(format!("{host}: {e}")))?;
        Self::launch(authority, Some((Arc::new(config), name)))
    }

    fn launch(
        authority: &str,
        tls: Option<(
            Arc<rustls::ClientConfig>,
            rustls::pki_types::ServerName<'static>,
        )>,
    ) -> io::Result<Self> {
        let upstream = std::net::ToSocketAddrs::to_socket_addrs(authority)?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address"))?;
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream,
            tls,
            state: Mutex::new(State {
                fault: Fault::PassThrough,
                delay: Duration::ZERO,
                buckets: Vec::new(),
                requests: Vec::new(),
                in_flight: 0,
                clients: Vec::new(),
                closed: false,
            }),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    {
                        let mut state = shared.lock();
                        if state.closed {
                            break;
                        }
                        if let Ok(clone) = stream.try_clone() {
                            state.clients.push(clone);
                        }
                    }
                    let shared = Arc::clone(&shared);
                    thread::spawn(move || {
                        let _ = serve(stream, &shared);
                    });
                }
            })
        };
        Ok(Self {
            address,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// `http://127.0.0.1:PORT`: give this to clients instead of the upstream's URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn fault(&self) -> Fault {
        self.shared.lock().fault
    }

    /// Changes what happens to the next requests; requests under way keep their fault.
    pub fn set_fault(&self, fault: Fault) {
        self.shared.lock().fault = fault;
    }

    /// Makes every request wait `delay` before it is forwarded or answered, as a registry
    /// that far away would (one wait per request: connections are not delayed).
    pub fn set_delay(&self, delay: Duration) {
        self.shared.lock().delay = delay;
    }

    /// Answers the requests over `limit`'s rate with ECR's throttling answer, beside any
    /// [`Fault`]; limits add up.
    pub fn limit_rate(&self, limit: RateLimit) {
        self.shared.lock().buckets.push(Bucket {
            limit,
            tokens: limit.per_second.max(1.0),
            at: std::time::Instant::now(),
        });
    }

    /// Every request so far, in the order their answers (or cuts) were decided.
    pub fn requests(&self) -> Vec<Request> {
        self.settled().requests.clone()
    }

    /// Returns the requests so far and forgets them.
    pub fn take_requests(&self) -> Vec<Request> {
        std::mem::take(&mut self.settled().requests)
    }

    /// The state once no request is in flight (or after a second): what a client has had its
    /// answer to is then recorded.
    fn settled(&self) -> MutexGuard<'_, State> {
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        loop {
            let state = self.shared.lock();
            if state.in_flight == 0 || std::time::Instant::now() >= deadline {
                return state;
            }
            drop(state);
            thread::sleep(Duration::from_millis(2));
        }
    }
}

/// `HOST:PORT` of `url`, which must be `SCHEME` + `HOST:PORT` (and an optional `/`).
fn authority<'a>(url: &'a str, scheme: &str) -> io::Result<&'a str> {
    url.strip_prefix(scheme)
        .map(|rest| rest.trim_end_matches('/'))
        .filter(|rest| !rest.contains('/'))
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{url}: expected {scheme}HOST:PORT"),
            )
        })
}

/// The most requests in `requests` that waited on each other: the longest chain in which each
/// request started after the one before had its answer. Requests sent at once count once.
pub fn sequential_round_trips(requests: &[Request]) -> usize {
    let mut sorted: Vec<&Request> = requests.iter().collect();
    sorted.sort_by_key(|request| request.started);
    let mut chain: Vec<usize> = Vec::with_capacity(sorted.len());
    for (j, request) in sorted.iter().enumerate() {
        let before = (0..j)
            .filter(|&i| sorted[i].finished <= request.started)
            .map(|i| chain[i])
            .max()
            .unwrap_or(0);
        chain.push(before + 1);
    }
    chain.into_iter().max().unwrap_or(0)
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let clients = {
            let mut state = self.shared.lock();
            state.closed = true;
            std::mem::take(&mut state.clients)
        };
        for client in clients {
            let _ = client.shutdown(Shutdown::Both);
        }
        // Wake the acceptor, which then sees `closed`.
        let _ = TcpStream::connect(self.address);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// What to do with one request, decided when its head has arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Forward,
    Answer503,
    AnswerThrottled,
    Answer429,
    CutBodyAfter(u64),
    CorruptBody,
    CutAnswerAfter(u64),
    DenyIfBodyNames(&'static str),
    AnswerAccessDenied,
    AnswerTagImmutable,
    AnswerTooManyRequests,
}

fn decide(shared: &Shared, method: &str, target: &str) -> Action {
    let mut state = shared.lock();
    let now = std::time::Instant::now();
    let path = target.split('?').next().unwrap_or(target);
    for bucket in &mut state.buckets {
        if bucket.limit.method == method && path.contains(bucket.limit.path) && !bucket.take(now) {
            return Action::AnswerTooManyRequests;
        }
    }
    match state.fault {
        Fault::PassThrough => Action::Forward,
        Fault::AlwaysUnavailable => Action::Answer503,
        Fault::Unavailable { requests } => {
            state.fault = if requests <= 1 {
                Fault::PassThrough
            } else {
                Fault::Unavailable {
                    requests: requests - 1,
                }
            };
            if requests == 0 {
                Action::Forward
            } else {
                Action::Answer503
            }
        }
        Fault::AlwaysThrottled => Action::AnswerThrottled,
        Fault::AlwaysTooManyRequests => Action::Answer429,
        Fault::Throttled { requests } => {
            state.fault = if requests <= 1 {
                Fault::PassThrough
            } else {
                Fault::Throttled {
                    requests: requests - 1,
                }
            };
            if requests == 0 {
                Action::Forward
            } else {
                Action::AnswerThrottled
            }
        }
        Fault::DropUploadsAfter { bytes }
            if method == "PATCH" || (method == "PUT" && target.contains("/blobs/uploads/")) =>
        {
            Action::CutBodyAfter(bytes)
        }
        Fault::CorruptBlobs if method == "GET" && target.contains("/blobs/sha256:") => {
            Action::CorruptBody
        }
        Fault::DropDownloadsAfter { bytes }
            if method == "GET" && target.contains("/blobs/sha256:") =>
        {
            Action::CutAnswerAfter(bytes)
        }
        Fault::DropUploadsAfter { .. } | Fault::CorruptBlobs | Fault::DropDownloadsAfter { .. } => {
            Action::Forward
        }
        Fault::DenyRepository { repository } => Action::DenyIfBodyNames(repository),
        Fault::ImmutableTags
            if method == "PUT"
                && target.contains("/manifests/")
                && !target.contains("/manifests/sha256:") =>
        {
            Action::AnswerTagImmutable
        }
        Fault::ImmutableTags => Action::Forward,
    }
}

/// The status line, extra headers and body of an answer the proxy makes up itself.
fn injected_answer(
    action: Action,
    head: &Head,
) -> Option<(&'static str, &'static str, &'static str)> {
    let query_protocol = head
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    match action {
        Action::Answer503 => Some((
            "503 Service Unavailable",
            "Content-Type: application/json\r\n",
            r#"{"errors":[{"code":"UNAVAILABLE","message":"service unavailable (injected by the fault proxy)"}]}"#,
        )),
        Action::AnswerThrottled if query_protocol => Some((
            "400 Bad Request",
            "Content-Type: text/xml\r\n",
            "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded (injected by the fault proxy)</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>",
        )),
        Action::AnswerThrottled => Some((
            "400 Bad Request",
            "Content-Type: application/x-amz-json-1.1\r\nx-amzn-ErrorType: ThrottlingException\r\n",
            r#"{"__type":"ThrottlingException","message":"Rate exceeded (injected by the fault proxy)"}"#,
        )),
        Action::Answer429 => Some(("429 Too Many Requests", "Content-Type: text/plain\r\n", "slow down")),
        Action::AnswerTooManyRequests => Some((
            "429 Too Many Requests",
            "Content-Type: application/json\r\n",
            r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"Rate exceeded (injected by the fault proxy)"}]}"#,
        )),
        Action::AnswerTagImmutable => Some((
            "400 Bad Request",
            "Content-Type: application/json\r\n",
            r#"{"errors":[{"code":"TAG_INVALID","message":"The image tag already exists in the repository and cannot be overwritten because the repository is immutable. (injected by the fault proxy)"}]}"#,
        )),
        Action::AnswerAccessDenied => Some((
            "400 Bad Request",
            "Content-Type: application/x-amz-json-1.1\r\nx-amzn-ErrorType: AccessDeniedException\r\n",
            r#"{"__type":"AccessDeniedException","message":"User: arn:aws:iam::123456789012:user/auditor is not authorized to perform this action on this repository with an explicit deny (injected by the fault proxy)"}"#,
        )),
        _ => None,
    }
}

/// A message head: the start line and the headers, as received, and parsed.
struct Head {
    raw: Vec<u8>,
    start: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn framing(&self) -> io::Result<Framing> {
        if self
            .header("transfer-encoding")
            .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"))
        {
            return Ok(Framing::Chunked);
        }
        match self.header("content-length") {
            Some(length) => length
                .trim()
                .parse()
                .map(Framing::Length)
                .map_err(|_| invalid(format!("bad Content-Length {length:?}"))),
            None => Ok(Framing::UntilClose),
        }
    }

    fn wants_close(&self) -> bool {
        self.header("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked,
    /// A response that ends when the connection does; a request without either header has
    /// no body.
    UntilClose,
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Reads a head; `None` on a clean end of stream before its first byte.
fn read_head(reader: &mut impl BufRead) -> io::Result<Option<Head>> {
    let mut raw = Vec::new();
    loop {
        let before = raw.len();
        let read = reader.take(MAX_HEAD as u64).read_until(b'\n', &mut raw)?;
        if read == 0 {
            if raw.is_empty() {
                return Ok(None);
            }
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if raw.len() > MAX_HEAD {
            return Err(invalid("head too large".into()));
        }
        let line = &raw[before..];
        if line == b"\r\n" || line == b"\n" {
            if before == 0 {
                // Stray empty line between messages (RFC 9112 §2.2): skip it.
                raw.clear();
                continue;
            }
            break;
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let mut lines = text.lines();
    let start = lines.next().unwrap_or_default().to_string();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim().to_string(), value.trim().to_string()))
        .collect();
    Ok(Some(Head {
        raw,
        start,
        headers,
    }))
}

/// What happens to the bytes of a body on the way.
#[derive(Debug, Clone, Copy)]
enum Tamper {
    None,
    /// Stop after this many body bytes: the caller cuts the connections.
    CutAfter(u64),
    /// Flip the byte at this offset of the body.
    FlipAt(u64),
}

/// How a body copy ended.
#[derive(Debug, PartialEq, Eq)]
enum Copied {
    Complete,
    Cut,
}

/// Copies a body framed as `framing` from `from` to `to` (raw: chunk framing included),
/// tampering with its data bytes as told.
fn copy_body(
    from: &mut impl BufRead,
    to: &mut impl Write,
    framing: Framing,
    tamper: Tamper,
) -> io::Result<Copied> {
    let mut offset = 0u64;
    match framing {
        Framing::Length(length) => {
            if copy_data(from, to, length, &mut offset, tamper)? == Copied::Cut {
                return Ok(Copied::Cut);
            }
        }
        Framing::UntilClose => {
            if copy_data(from, to, u64::MAX, &mut offset, tamper)? == Copied::Cut {
                return Ok(Copied::Cut);
            }
        }
        Framing::Chunked => loop {
            let mut line = Vec::new();
            from.take(MAX_HEAD as u64).read_until(b'\n', &mut line)?;
            if !line.ends_with(b"\n") {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let text = String::from_utf8_lossy(&line);
            let size = text.split(';').next().unwrap_or_default().trim();
            let size = u64::from_str_radix(size, 16)
                .map_err(|_| invalid(format!("bad chunk size line {text:?}")))?;
            to.write_all(&line)?;
            if size == 0 {
                // Trailers, up to the empty line.
                loop {
                    let mut trailer = Vec::new();
                    from.take(MAX_HEAD as u64).read_until(b'\n', &mut trailer)?;
                    if !trailer.ends_with(b"\n") {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    to.write_all(&trailer)?;
                    if trailer == b"\r\n" || trailer == b"\n" {
                        break;
                    }
                }
                break;
            }
            if copy_data(from, to, size, &mut offset, tamper)? == Copied::Cut {
                return Ok(Copied::Cut);
            }
            let mut end = [0u8; 2];
            from.read_exact(&mut end)?;
            to.write_all(&end)?;
        },
    }
    to.flush()?;
    Ok(Copied::Complete)
}

/// Copies `length` data bytes (or up to the end of stream when `u64::MAX`).
fn copy_data(
    from: &mut impl BufRead,
    to: &mut impl Write,
    length: u64,
    offset: &mut u64,
    tamper: Tamper,
) -> io::Result<Copied> {
    let mut left = length;
    let mut buffer = vec![0u8; BUFFER];
    while left > 0 {
        let want = usize::try_from(left.min(BUFFER as u64)).unwrap_or(BUFFER);
        let read = from.read(&mut buffer[..want])?;
        if read == 0 {
            if length == u64::MAX {
                break;
            }
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let chunk = &mut buffer[..read];
        let start = *offset;
        let end = start + read as u64;
        match tamper {
            Tamper::CutAfter(limit) if end >= limit => {
                let keep = usize::try_from(limit.saturating_sub(start)).unwrap_or(0);
                to.write_all(&chunk[..keep])?;
                to.flush()?;
                return Ok(Copied::Cut);
            }
            Tamper::FlipAt(at) if (start..end).contains(&at) => {
                let index = usize::try_from(at - start).unwrap_or(0);
                chunk[index] ^= 0xff;
            }
            _ => {}
        }
        to.write_all(chunk)?;
        *offset = end;
        left -= read as u64;
    }
    Ok(Copied::Complete)
}

/// The connection to the upstream: plain TCP, or TLS over it.
enum Connection {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for Connection {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Connection::Plain(stream) => stream.read(buf),
            Connection::Tls(stream) => stream.read(buf),
        }
    }
}

impl Write for Connection {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Connection::Plain(stream) => stream.write(buf),
            Connection::Tls(stream) => stream.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Connection::Plain(stream) => stream.flush(),
            Connection::Tls(stream) => stream.flush(),
        }
    }
}

/// One upstream connection; requests and answers take turns on it, so one buffered reader
/// serves both directions (writes go through `get_mut`).
struct Upstream {
    connection: BufReader<Connection>,
    socket: TcpStream,
}

impl Upstream {
    fn connect(shared: &Shared) -> io::Result<Self> {
        let stream = TcpStream::connect(shared.upstream)?;
        stream.set_read_timeout(Some(IDLE))?;
        stream.set_nodelay(true)?;
        let socket = stream.try_clone()?;
        let connection = match &shared.tls {
            None => Connection::Plain(stream),
            Some((config, name)) => {
                let client = rustls::ClientConnection::new(Arc::clone(config), name.clone())
                    .map_err(io::Error::other)?;
                Connection::Tls(Box::new(rustls::StreamOwned::new(client, stream)))
            }
        };
        Ok(Self {
            connection: BufReader::with_capacity(BUFFER, connection),
            socket,
        })
    }

    fn writer(&mut self) -> &mut Connection {
        self.connection.get_mut()
    }

    fn close(&self) {
        let _ = self.socket.shutdown(Shutdown::Both);
    }
}

/// Serves one client connection until it closes, or a fault cuts it.
fn serve(client: TcpStream, shared: &Shared) -> io::Result<()> {
    client.set_read_timeout(Some(IDLE))?;
    client.set_nodelay(true)?;
    let mut reader = BufReader::with_capacity(BUFFER, client.try_clone()?);
    let mut writer = client;
    let mut upstream: Option<Upstream> = None;
    let cut = |writer: &TcpStream, upstream: &Option<Upstream>| {
        let _ = writer.shutdown(Shutdown::Both);
        if let Some(upstream) = upstream {
            upstream.close();
        }
    };
    while let Some(head) = read_head(&mut reader)? {
        let _in_flight = InFlight::enter(shared);
        let mut parts = head.start.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or_default().to_string();
        let framing = match head.framing()? {
            // A request without a length has no body.
            Framing::UntilClose => Framing::Length(0),
            framing => framing,
        };
        let now = std::time::Instant::now();
        let mut request = Request {
            method: method.clone(),
            target: target.clone(),
            status: None,
            injected: false,
            started: now,
            finished: now,
            operation: head
                .header("x-amz-target")
                .map(|t| t.rsplit('.').next().unwrap_or(t).to_string()),
        };
        let delay = shared.lock().delay;
        if !delay.is_zero() {
            thread::sleep(delay);
        }
        let mut action = decide(shared, &method, &target);
        // A body read ahead to decide on (DenyRepository), forwarded as read.
        let mut early_body: Option<Vec<u8>> = None;
        if let Action::DenyIfBodyNames(repository) = action {
            let mut body = Vec::new();
            copy_body(&mut reader, &mut body, framing, Tamper::None)?;
            let named = format!("\"{repository}\"");
            action = if String::from_utf8_lossy(&body).contains(&named) {
                Action::AnswerAccessDenied
            } else {
                Action::Forward
            };
            early_body = Some(body);
        }
        if let Some((status, headers, body)) = injected_answer(action, &head) {
            if early_body.is_none() {
                copy_body(&mut reader, &mut io::sink(), framing, Tamper::None)?;
            }
            let answer = format!(
                "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\n\r\n",
                body.len()
            );
            writer.write_all(answer.as_bytes())?;
            if method != "HEAD" {
                writer.write_all(body.as_bytes())?;
            }
            writer.flush()?;
            request.status = status.split(' ').next().and_then(|code| code.parse().ok());
            request.injected = true;
            shared.record(request);
            continue;
        }

        let server = match upstream.as_mut() {
            Some(server) => server,
            None => upstream.insert(Upstream::connect(shared)?),
        };
        server.writer().write_all(&head.raw)?;
        let tamper = match action {
            Action::CutBodyAfter(bytes) => Tamper::CutAfter(bytes),
            _ => Tamper::None,
        };
        let copied = match &early_body {
            Some(body) => {
                server.writer().write_all(body)?;
                server.writer().flush()?;
                Copied::Complete
            }
            None => copy_body(&mut reader, server.writer(), framing, tamper)?,
        };
        if copied == Copied::Cut {
            request.injected = true;
            shared.record(request);
            cut(&writer, &upstream);
            return Ok(());
        }

        server.writer().flush()?;
        let Some(answer) = read_head(&mut server.connection)? else {
            // The upstream closed without answering: so does the proxy.
            shared.record(request);
            cut(&writer, &upstream);
            return Ok(());
        };
        let status: u16 = answer
            .start
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let framing = if method == "HEAD" || status == 204 || status == 304 || status < 200 {
            Framing::Length(0)
        } else {
            answer.framing()?
        };
        let tamper = match (action, framing) {
            (Action::CorruptBody, Framing::Length(length)) if status == 200 && length > 0 => {
                Tamper::FlipAt(length / 2)
            }
            (Action::CorruptBody, _) if status == 200 => Tamper::FlipAt(0),
            (Action::CutAnswerAfter(bytes), _) if status == 200 => Tamper::CutAfter(bytes),
            _ => Tamper::None,
        };
        request.injected = matches!(tamper, Tamper::FlipAt(_));
        writer.write_all(&answer.raw)?;
        if copy_body(&mut server.connection, &mut writer, framing, tamper)? == Copied::Cut {
            request.injected = true;
            shared.record(request);
            cut(&writer, &upstream);
            return Ok(());
        }
        request.status = Some(status);
        shared.record(request);
        if framing == Framing::UntilClose || answer.wants_close() || head.wants_close() {
            cut(&writer, &upstream);
            return Ok(());
        }
    }
    if let Some(upstream) = &upstream {
        upstream.close();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(framing: Framing, input: &[u8], tamper: Tamper) -> (Vec<u8>, Copied) {
        let mut out = Vec::new();
        let copied =
            copy_body(&mut io::Cursor::new(input), &mut out, framing, tamper).expect("copies");
        (out, copied)
    }

    #[test]
    fn bodies_are_copied_with_their_framing() {
        let (out, copied) = body(Framing::Length(5), b"hello, and more", Tamper::None);
        assert_eq!((out.as_slice(), copied), (&b"hello"[..], Copied::Complete));

        let chunked = b"5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
        let (out, _) = body(Framing::Chunked, chunked, Tamper::None);
        assert_eq!(out, &chunked[..chunked.len() - 4]);

        let (out, _) = body(Framing::Chunked, chunked, Tamper::FlipAt(6));
        assert_eq!(
            out,
            b"5\r\nhello\r\n3;ext=1\r\na\x9dc\r\n0\r\nX-Trailer: 1\r\n\r\n"
        );

        let (out, copied) = body(Framing::Chunked, chunked, Tamper::CutAfter(7));
        assert_eq!(
            (out.as_slice(), copied),
            (&b"5\r\nhello\r\n3;ext=1\r\nab"[..], Copied::Cut)
        );

        let (out, copied) = body(Framing::UntilClose, b"to the end", Tamper::None);
        assert_eq!(
            (out.as_slice(), copied),
            (&b"to the end"[..], Copied::Complete)
        );
    }

    #[test]
    fn heads_are_parsed_and_stray_empty_lines_skipped() {
        let input = b"\r\nPATCH /v2/a/blobs/uploads/x?_state=1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nbody";
        let mut reader = io::Cursor::new(&input[..]);
        let head = read_head(&mut reader).expect("reads").expect("a head");
        assert_eq!(head.start, "PATCH /v2/a/blobs/uploads/x?_state=1 HTTP/1.1");
        assert_eq!(head.header("host"), Some("h"));
        assert_eq!(head.framing().expect("framing"), Framing::Chunked);
        assert!(read_head(&mut io::Cursor::new(&b""[..]))
            .expect("reads")
            .is_none());
    }

    #[test]
    fn a_rate_limit_answers_what_exceeds_it_and_refills() {
        let start = std::time::Instant::now();
        let mut bucket = Bucket {
            limit: RateLimit {
                method: "PUT",
                path: "/manifests/",
                per_second: 10.0,
            },
            tokens: 10.0,
            at: start,
        };
        let burst = (0..12).filter(|_| bucket.take(start)).count();
        assert_eq!(burst, 10, "one second's worth at once");
        assert!(!bucket.take(start + Duration::from_millis(50)));
        assert!(bucket.take(start + Duration::from_millis(150)));
    }

    #[test]
    fn unavailable_counts_down_to_pass_through() {
        let shared = Shared {
            upstream: "127.0.0.1:1".parse().expect("address"),
            tls: None,
            state: Mutex::new(State {
                fault: Fault::Unavailable { requests: 2 },
                delay: Duration::ZERO,
                buckets: Vec::new(),
                requests: Vec::new(),
                in_flight: 0,
                clients: Vec::new(),
                closed: false,
            }),
        };
        let actions: Vec<Action> = (0..3).map(|_| decide(&shared, "GET", "/v2/")).collect();
        assert_eq!(
            actions,
            [Action::Answer503, Action::Answer503, Action::Forward]
        );
        assert_eq!(shared.lock().fault, Fault::PassThrough);
    }
}
