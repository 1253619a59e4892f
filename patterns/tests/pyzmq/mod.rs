//! pyzmq as a peer, for what the bundled libzmq lacks (it has no CURVE): the test
//! command makes its own virtual environment with a pinned pyzmq (whose wheel carries
//! libzmq 4.3.5 with CURVE) the first time a test needs it, under the target
//! directory, and reuses it afterwards. It needs `python3` with its `venv` module and
//! PyPI; nothing is installed outside the target directory.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

/// The pyzmq release the tests run against.
pub const PYZMQ: &str = "pyzmq==27.3.0";

/// The environment's python, made on first use.
pub fn python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pyzmq-venv");
            let python = root.join("bin").join("python");
            if works(&python) {
                return python;
            }
            // Built aside and renamed into place, so that test binaries running at the
            // same time never see a half-made environment.
            let building = root.with_extension(format!("building-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&building);
            run(Command::new("python3").arg("-m").arg("venv").arg(&building));
            run(Command::new(building.join("bin").join("python")).args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                PYZMQ,
            ]));
            if std::fs::rename(&building, &root).is_err() {
                // Another test binary finished first: use its environment.
                let _ = std::fs::remove_dir_all(&building);
            }
            assert!(
                works(&python),
                "pyzmq environment at {} is unusable",
                root.display()
            );
            python
        })
        .clone()
}

fn works(python: &PathBuf) -> bool {
    Command::new(python)
        .args(["-c", "import zmq; assert zmq.has('curve')"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn run(command: &mut Command) {
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        status.success(),
        "{command:?} failed: the CURVE tests need python3 with venv and access to PyPI"
    );
}

/// What every script starts with: `zmq`, `zmq.auth` and `sys`, and
/// - `curve_client(kind)`, a socket of `kind` set up as a CURVE client from the
///   arguments `SERVERPUBLIC PUBLIC SECRET` (`sys.argv[2..5]`, after the endpoint in
///   `sys.argv[1]`);
/// - `certified_client(kind, server_key, secret_cert)`, the same with the server's
///   public key given and the client's pair read by `zmq.auth.load_certificate` from
///   the secret certificate at `secret_cert`;
/// - `refused_status(s, endpoint)`: connects `s` and returns the ZAP status code of
///   the server's refusal (libzmq's HANDSHAKE_FAILED_AUTH event, at most 10 s away).
const PRELUDE: &str = r#"import zmq, zmq.auth, sys
from zmq.utils.monitor import recv_monitor_message
def curve_client(kind):
    s = zmq.Context.instance().socket(kind)
    s.curve_serverkey = sys.argv[2].encode()
    s.curve_publickey = sys.argv[3].encode()
    s.curve_secretkey = sys.argv[4].encode()
    return s
def certified_client(kind, server_key, secret_cert):
    s = zmq.Context.instance().socket(kind)
    s.curve_serverkey = server_key
    s.curve_publickey, s.curve_secretkey = zmq.auth.load_certificate(secret_cert)
    return s
def refused_status(s, endpoint):
    m = s.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_AUTH)
    m.rcvtimeo = 10000
    s.connect(endpoint)
    return recv_monitor_message(m)["value"]
"#;

/// Runs `script` (Python, after [`PRELUDE`]) with `args`; its standard output is piped
/// for the caller to read.
pub fn spawn(script: &str, args: &[&str]) -> Child {
    Command::new(python())
        .arg("-c")
        .arg(format!("{PRELUDE}{script}"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python")
}

/// The first line a python peer prints (its endpoint), and the process.
pub fn started(script: &str, args: &[&str]) -> (String, std::process::Child) {
    let mut child = spawn(script, args);
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    (line.trim().to_string(), child)
}

/// Everything a python peer printed afterwards (it must succeed, else its errors are
/// shown).
pub fn finished(child: std::process::Child) -> String {
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "python failed: {err}");
    String::from_utf8(out.stdout).expect("python prints text")
}
