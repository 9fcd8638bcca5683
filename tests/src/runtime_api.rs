//! A Lambda Runtime API emulator: enough of `/2018-06-01/runtime` to run a function binary
//! built on `lambda_runtime` and feed it events one at a time.
//!
//! A std `TcpListener` on 127.0.0.1:0 and a thread per connection, HTTP/1.1 with keep-alive
//! (the runtime's hyper client reuses its connection): `GET …/invocation/next` blocks until an
//! event is queued; `POST …/invocation/{id}/response`, `…/invocation/{id}/error` and
//! `…/init/error` record what the function reported.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

const PREFIX: &str = "/2018-06-01/runtime";
/// How long a function may take to initialise, and to handle one event.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// What the function sees as its remaining time for each event.
const DEADLINE: Duration = Duration::from_secs(60);

/// What a function reported for one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Response(Value),
    Error {
        error_type: String,
        error_message: String,
    },
}

impl Answer {
    /// The response, or `None` for an error.
    pub fn response(&self) -> Option<&Value> {
        match self {
            Self::Response(value) => Some(value),
            Self::Error { .. } => None,
        }
    }

    /// The response, or Lambda's `{"errorType", "errorMessage"}` for an error.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Response(value) => value.clone(),
            Self::Error {
                error_type,
                error_message,
            } => json!({ "errorType": error_type, "errorMessage": error_message }),
        }
    }
}

/// The function failed before it asked for its first event.
#[derive(Debug)]
pub struct InitError {
    /// What the function posted to `/runtime/init/error`, if it did.
    pub reported: Option<(String, String)>,
    /// How the function exited, when it exited by itself.
    pub status: Option<ExitStatus>,
    /// The function's stdout and stderr.
    pub output: String,
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the function failed to initialise")?;
        if let Some((error_type, error_message)) = &self.reported {
            write!(f, ": {error_type}: {error_message}")?;
        }
        if let Some(status) = &self.status {
            write!(f, " ({status})")?;
        }
        write!(f, "; its output:\n{}", self.output)
    }
}

impl std::error::Error for InitError {}

#[derive(Default)]
struct State {
    /// Events queued for `next`, with their request ids.
    pending: VecDeque<(String, Value)>,
    /// `next` requests received so far.
    polls: usize,
    results: HashMap<String, Answer>,
    init_error: Option<(String, String)>,
    closed: bool,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    function_arn: String,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running emulator. Dropping it stops the server.
pub struct RuntimeApi {
    address: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl RuntimeApi {
    /// Starts an emulator for the function `name` on a free port.
    pub fn start(name: &str) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            changed: Condvar::new(),
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{name}"),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if shared.lock().closed {
                        break;
                    }
                    if let Ok(stream) = stream {
                        let shared = Arc::clone(&shared);
                        thread::spawn(move || {
                            let _ = serve(stream, &shared);
                        });
                    }
                }
            })
        };
        Ok(Self {
            address,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// `127.0.0.1:PORT`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// Runs a function binary on `events`, one at a time, and returns what it reported for
    /// each. The function gets `AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_FUNCTION_NAME` (the file
    /// name), `AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128`, `AWS_LAMBDA_FUNCTION_VERSION=$LATEST`,
    /// `PATH`, `RUST_LOG` and `RUST_BACKTRACE` when set, then `env` — nothing else from this
    /// process. Its output is printed to stderr at the end (libtest shows it when a test
    /// fails).
    ///
    /// # Errors
    /// When the function exits, or posts `/init/error`, before it asks for an event.
    ///
    /// # Panics
    /// When the function takes longer than [`TIMEOUT`] to initialise or to handle an event,
    /// or exits while handling one; the message has its output.
    pub fn invoke_binary(
        binary: &Path,
        env: &[(String, String)],
        events: Vec<Value>,
    ) -> Result<Vec<Answer>, InitError> {
        Self::invoke_binary_with_output(binary, env, events).map(|(answers, _)| answers)
    }

    /// [`RuntimeApi::invoke_binary`], with the function's output (stdout and stderr, as they
    /// interleaved): its log, as Lambda would send it to CloudWatch Logs.
    ///
    /// # Errors
    /// As [`RuntimeApi::invoke_binary`].
    ///
    /// # Panics
    /// As [`RuntimeApi::invoke_binary`].
    pub fn invoke_binary_with_output(
        binary: &Path,
        env: &[(String, String)],
        events: Vec<Value>,
    ) -> Result<(Vec<Answer>, String), InitError> {
        Self::invoke_binary_observed(binary, env, events, |_, _| {})
    }

    /// [`RuntimeApi::invoke_binary_with_output`], calling `observe(number, answer)` after each
    /// event's answer and before the next event is handed over (to read a proxy's requests per
    /// event).
    ///
    /// # Errors
    /// As [`RuntimeApi::invoke_binary`].
    ///
    /// # Panics
    /// As [`RuntimeApi::invoke_binary`].
    pub fn invoke_binary_observed(
        binary: &Path,
        env: &[(String, String)],
        events: Vec<Value>,
        mut observe: impl FnMut(usize, &Answer),
    ) -> Result<(Vec<Answer>, String), InitError> {
        let name = binary
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "function".into());
        let api = Self::start(&name).expect("start the Runtime API emulator");
        let mut function = Function::spawn(binary, &name, &api.address(), env);

        let init = api.wait_for(&mut function, |state| match state.init_error.take() {
            Some(reported) => Some(Err(reported)),
            None => (state.polls > 0).then_some(Ok(())),
        });
        match init {
            Ok(Ok(())) => {}
            Ok(Err(reported)) => {
                function.wait_exit(Duration::from_secs(2));
                let (status, output) = function.stop();
                return Err(InitError {
                    reported: Some(reported),
                    status,
                    output,
                });
            }
            Err(Stop::Exited(status)) => {
                let (_, output) = function.stop();
                return Err(InitError {
                    reported: None,
                    status: Some(status),
                    output,
                });
            }
            Err(Stop::TimedOut) => {
                let (_, output) = function.stop();
                panic!("{name} did not ask for an event within {TIMEOUT:?}; its output:\n{output}");
            }
        }

        let mut invocations = Vec::new();
        for (number, event) in events.into_iter().enumerate() {
            let id = format!("8f2b3d6e-0000-4000-8000-{number:012x}");
            api.shared.lock().pending.push_back((id.clone(), event));
            api.shared.changed.notify_all();
            match api.wait_for(&mut function, |state| state.results.remove(&id)) {
                Ok(invocation) => {
                    observe(number, &invocation);
                    invocations.push(invocation);
                }
                Err(stop) => {
                    let (_, output) = function.stop();
                    let what = match stop {
                        Stop::Exited(status) => format!("exited ({status})"),
                        Stop::TimedOut => format!("gave no result within {TIMEOUT:?}"),
                    };
                    panic!("{name} {what} on event #{number}; its output:\n{output}");
                }
            }
        }
        let (_, output) = function.stop();
        eprintln!("---- {name}'s output ----\n{output}---- end of {name}'s output ----");
        Ok((invocations, output))
    }

    /// Waits until `ready` finds something in the state, the function exits, or [`TIMEOUT`].
    fn wait_for<T>(
        &self,
        function: &mut Function,
        mut ready: impl FnMut(&mut State) -> Option<T>,
    ) -> Result<T, Stop> {
        let deadline = Instant::now() + TIMEOUT;
        let mut state = self.shared.lock();
        loop {
            // The server records a report before it answers, and the runtime waits for the
            // answer, so a report always lands before the function's exit shows.
            if let Some(found) = ready(&mut state) {
                return Ok(found);
            }
            if let Some(status) = function.exited() {
                return Err(Stop::Exited(status));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Stop::TimedOut);
            }
            let tick = left.min(Duration::from_millis(50));
            state = self
                .shared
                .changed
                .wait_timeout(state, tick)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.changed.notify_all();
        // Wake the acceptor, which then sees `closed`.
        let _ = TcpStream::connect(self.address);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

enum Stop {
    Exited(ExitStatus),
    TimedOut,
}

/// The function's process; killed on drop. Its stdout and stderr go to one anonymous file.
struct Function {
    child: Child,
    log: File,
}

impl Function {
    fn spawn(binary: &Path, name: &str, api: &str, env: &[(String, String)]) -> Self {
        let log = tempfile::tempfile().expect("create a log file");
        let inherited = ["PATH", "RUST_LOG", "RUST_BACKTRACE"]
            .into_iter()
            .filter_map(|key| std::env::var_os(key).map(|value| (key, value)));
        let inherited: Vec<_> = inherited.collect();
        let spawn = || {
            Command::new(binary)
                .env_clear()
                .envs(inherited.iter().cloned())
                .env("AWS_LAMBDA_RUNTIME_API", api)
                .env("AWS_LAMBDA_FUNCTION_NAME", name)
                .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
                .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
                .envs(env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("clone the log file"))
                .stderr(log.try_clone().expect("clone the log file"))
                .spawn()
        };
        // A script a test has just written can be "busy" for a moment: a process another
        // test forked meanwhile still holds its write descriptor until it execs (ETXTBSY).
        let mut attempt = 0;
        let child = loop {
            match spawn() {
                Err(e) if e.raw_os_error() == Some(26) && attempt < 20 => {
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                other => {
                    break other.unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()))
                }
            }
        };
        Self { child, log }
    }

    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    fn wait_exit(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.exited().is_none() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the function if it still runs. Returns its exit status when it had exited by
    /// itself, and its output.
    fn stop(&mut self) -> (Option<ExitStatus>, String) {
        let status = self.exited();
        if status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let mut bytes = Vec::new();
        let read = self
            .log
            .seek(SeekFrom::Start(0))
            .and_then(|_| self.log.read_to_end(&mut bytes));
        if let Err(error) = read {
            bytes.extend_from_slice(format!("(cannot read the output: {error})").as_bytes());
        }
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------------------------------------ HTTP

struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
    close: bool,
}

struct Response {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Response {
    fn json(status: u16, body: &Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.to_string().into_bytes(),
        }
    }

    fn accepted() -> Self {
        Self::json(202, &json!({ "status": "OK" }))
    }
}

/// Serves one connection: requests in turn until the client closes it.
fn serve(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    while let Some(request) = read_request(&mut reader)? {
        // `None`: the emulator is closing while `next` waited; drop the connection.
        let Some(response) = route(shared, &request) else {
            return Ok(());
        };
        let reason = match response.status {
            200 => "OK",
            202 => "Accepted",
            _ => "Not Found",
        };
        let mut head = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            response.status,
            response.body.len()
        );
        for (name, value) in &response.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        writer.write_all(head.as_bytes())?;
        writer.write_all(&response.body)?;
        writer.flush()?;
        if request.close {
            return Ok(());
        }
    }
    Ok(())
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// One request, or `None` when the client closed the connection between requests.
fn read_request(reader: &mut impl BufRead) -> io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
        return Err(invalid(format!("bad request line {line:?}")));
    };
    let (method, path) = (method.to_string(), path.to_string());
    let (mut length, mut chunked, mut close) = (0, false, false);
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else {
            return Err(invalid(format!("bad header {header:?}")));
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                length = value
                    .parse()
                    .map_err(|_| invalid(format!("bad Content-Length {value:?}")))?;
            }
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            "connection" => close = value.eq_ignore_ascii_case("close"),
            _ => {}
        }
    }
    let body = if chunked {
        read_chunked(reader)?
    } else {
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        body
    };
    Ok(Some(Request {
        method,
        path,
        body,
        close,
    }))
}

fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| invalid(format!("bad chunk size {line:?}")))?;
        if size == 0 {
            // Trailers, up to an empty line.
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        line.clear();
        reader.read_line(&mut line)?;
    }
}

/// `{"errorType", "errorMessage"}`, as the runtime posts it.
fn diagnostic(body: &[u8]) -> (String, String) {
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let field = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_string);
    (
        field("errorType").unwrap_or_else(|| "Unknown".into()),
        field("errorMessage").unwrap_or_else(|| String::from_utf8_lossy(body).into_owned()),
    )
}

fn route(shared: &Shared, request: &Request) -> Option<Response> {
    let path = request.path.strip_prefix(PREFIX).unwrap_or_default();
    let report = |record: &dyn Fn(&mut State)| {
        record(&mut shared.lock());
        shared.changed.notify_all();
        Some(Response::accepted())
    };
    match (request.method.as_str(), path) {
        ("GET", "/invocation/next") => {
            let mut state = shared.lock();
            state.polls += 1;
            shared.changed.notify_all();
            let (id, event) = loop {
                if state.closed {
                    return None;
                }
                if let Some(next) = state.pending.pop_front() {
                    break next;
                }
                state = shared
                    .changed
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            };
            drop(state);
            let deadline = SystemTime::now() + DEADLINE;
            let deadline_ms = deadline
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis();
            let mut response = Response::json(200, &event);
            response.headers = vec![
                ("Lambda-Runtime-Aws-Request-Id", id),
                ("Lambda-Runtime-Deadline-Ms", deadline_ms.to_string()),
                (
                    "Lambda-Runtime-Invoked-Function-Arn",
                    shared.function_arn.clone(),
                ),
                (
                    "Lambda-Runtime-Trace-Id",
                    "Root=1-6740f3a1-5c1e4f7b2a9d8e6f3b2c1d0e;Parent=53995c3f42cd8ad8;Sampled=0"
                        .into(),
                ),
            ];
            Some(response)
        }
        ("POST", "/init/error") => {
            let reported = diagnostic(&request.body);
            report(&|state| state.init_error = Some(reported.clone()))
        }
        ("POST", path) => match path
            .strip_prefix("/invocation/")
            .and_then(|rest| rest.split_once('/'))
        {
            Some((id, "response")) => {
                let value = serde_json::from_slice(&request.body).unwrap_or_else(|_| {
                    Value::String(String::from_utf8_lossy(&request.body).into_owned())
                });
                report(&|state| {
                    state
                        .results
                        .insert(id.to_string(), Answer::Response(value.clone()));
                })
            }
            Some((id, "error")) => {
                let (error_type, error_message) = diagnostic(&request.body);
                report(&|state| {
                    let error = Answer::Error {
                        error_type: error_type.clone(),
                        error_message: error_message.clone(),
                    };
                    state.results.insert(id.to_string(), error);
                })
            }
            _ => Some(Response::json(404, &json!({ "errorType": "NotFound" }))),
        },
        _ => Some(Response::json(404, &json!({ "errorType": "NotFound" }))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A raw client: the emulator's HTTP handling, without a function binary.
    fn exchange(stream: &mut BufReader<TcpStream>, request: &str) -> (String, String) {
        stream
            .get_mut()
            .write_all(request.as_bytes())
            .expect("send");
        let mut head = String::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            stream.read_line(&mut line).expect("read");
            if line.trim().is_empty() {
                break;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().expect("length");
            }
            head.push_str(&line);
        }
        let mut body = vec![0; length];
        stream.read_exact(&mut body).expect("body");
        (head, String::from_utf8(body).expect("utf-8"))
    }

    #[test]
    fn serves_next_and_records_reports_on_one_keep_alive_connection() {
        let api = RuntimeApi::start("fn").expect("start");
        api.shared
            .lock()
            .pending
            .push_back(("id-1".into(), json!({"hello": 1})));
        let mut stream = BufReader::new(TcpStream::connect(api.address).expect("connect"));

        let (head, body) = exchange(
            &mut stream,
            "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n",
        );
        assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
        assert!(
            head.contains("Lambda-Runtime-Aws-Request-Id: id-1"),
            "{head}"
        );
        assert!(head.contains("function:fn"), "{head}");
        assert_eq!(body, r#"{"hello":1}"#);

        let (head, _) = exchange(
            &mut stream,
            "POST /2018-06-01/runtime/invocation/id-1/response HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n5\r\n\":2}\n\r\n0\r\n\r\n",
        );
        assert!(head.starts_with("HTTP/1.1 202"), "{head}");
        let error = r#"{"errorType":"Boom","errorMessage":"no"}"#;
        exchange(
            &mut stream,
            &format!(
                "POST /2018-06-01/runtime/invocation/id-2/error HTTP/1.1\r\nContent-Length: {}\r\n\r\n{error}",
                error.len()
            ),
        );
        let (head, _) = exchange(&mut stream, "GET /nope HTTP/1.1\r\n\r\n");
        assert!(head.starts_with("HTTP/1.1 404"), "{head}");

        let mut state = api.shared.lock();
        assert_eq!(state.polls, 1);
        assert_eq!(
            state.results.remove("id-1"),
            Some(Answer::Response(json!({"a": 2})))
        );
        assert_eq!(
            state.results.remove("id-2"),
            Some(Answer::Error {
                error_type: "Boom".into(),
                error_message: "no".into()
            })
        );
    }

    #[test]
    fn a_missing_binary_is_reported_clearly() {
        let result = std::panic::catch_unwind(|| {
            RuntimeApi::invoke_binary(Path::new("/nonexistent/fn"), &[], vec![])
        });
        let message = result.expect_err("panics");
        let message = message
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert!(message.contains("cannot run /nonexistent/fn"), "{message}");
    }

    fn script(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path
    }

    #[test]
    fn init_errors_carry_the_exit_status_the_report_and_the_output() {
        let dir = tempfile::tempdir().expect("tempdir");
        let env = [("MSG".to_string(), "STEWARD_X is not set".to_string())];

        let exits = script(dir.path(), "exits", r#"echo "Error: $MSG" >&2; exit 3"#);
        let error = RuntimeApi::invoke_binary(&exits, &env, vec![json!({})]).expect_err("init");
        assert!(error.reported.is_none());
        assert_eq!(error.status.and_then(|s| s.code()), Some(3));
        assert!(
            error.output.contains("Error: STEWARD_X is not set"),
            "{error}"
        );

        let reports = script(
            dir.path(),
            "reports",
            r#"curl -fsS -X POST -d '{"errorType":"Runtime.Config","errorMessage":"bad"}' \
                "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/init/error"; exit 1"#,
        );
        let error = RuntimeApi::invoke_binary(&reports, &env, vec![]).expect_err("init");
        assert_eq!(
            error.reported,
            Some(("Runtime.Config".to_string(), "bad".to_string()))
        );
        assert!(error.output.contains(r#"{"status":"OK"}"#), "{error}");
        assert!(error.to_string().contains("Runtime.Config: bad"), "{error}");
    }
}
