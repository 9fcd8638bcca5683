//! Pushes with any `push_image.py` options, for what [`PushSpec`](crate::PushSpec) does not
//! cover (`--layers`, `--layer-size`, `--registry`, `--no-ecr`, `--media`).

use std::process::Command;

use crate::{workspace_root, PushedImage, Stack};

/// Runs `push_image.py ARGS` with the stack's environment and returns its JSON line.
///
/// # Panics
/// When the script fails; the message has its output.
pub fn push_image_with(stack: &Stack, args: &[&str]) -> PushedImage {
    let script = workspace_root().join("scripts/testbed/push_image.py");
    let output = Command::new(stack.python())
        .arg(&script)
        .args(args)
        .env_clear()
        .envs(stack.env().iter().map(|(k, v)| (k, v)))
        .envs(std::env::var_os("PATH").map(|path| ("PATH", path)))
        .output()
        .expect("run push_image.py");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "push_image.py {args:?} failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("push_image.py printed {stdout:?}, not its JSON line: {e}"))
}
