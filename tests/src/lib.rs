//! Shared helpers for the integration tests.

use std::io::Write;
use std::process::{Command, Stdio};

/// Runs one of the Python oracles in `tests/oracle/` with `input` as JSON on
/// its standard input and returns its JSON output. The interpreter is
/// `python3`, or `CALREP_PYTHON` when set.
///
/// # Panics
///
/// When the interpreter cannot be started or the oracle fails: the test
/// that asked for it cannot go on.
#[allow(clippy::expect_used, clippy::panic)]
pub fn run_oracle(script: &str, input: &serde_json::Value) -> serde_json::Value {
    let python = std::env::var("CALREP_PYTHON").unwrap_or_else(|_| "python3".into());
    let path = format!("{}/oracle/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new(&python)
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {python} {path}: {e}"));
    let payload = serde_json::to_vec(input).expect("JSON input");
    let mut stdin = child.stdin.take().expect("piped stdin");
    // Write from another thread so a large output cannot deadlock the pipe.
    let writer = std::thread::spawn(move || stdin.write_all(&payload));
    let output = child.wait_with_output().expect("oracle output");
    writer
        .join()
        .expect("writer thread")
        .expect("write to oracle");
    assert!(output.status.success(), "oracle {script} failed");
    serde_json::from_slice(&output.stdout).expect("oracle JSON")
}
