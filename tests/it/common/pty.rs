//! The real binary under a pseudo-terminal (`expectrl`): stdin, stdout and stderr are
//! one terminal, as when a person runs it. Every wait is bounded by [`PTY_TIMEOUT`].

use std::process::Command;
use std::time::Duration;

use expectrl::process::unix::WaitStatus;
use expectrl::{Eof, Expect, Session};

/// The longest any expected text (or the end of output) is waited for.
pub const PTY_TIMEOUT: Duration = Duration::from_secs(60);

/// What a run under a terminal printed (carriage returns removed) and its exit code.
#[derive(Debug)]
pub struct PtyRun {
    /// Everything written to the terminal, in order.
    pub output: String,
    /// The exit code (`None`: killed by a signal).
    pub code: Option<i32>,
}

/// A command for the binary with `args`: no `IMMUTA*` or colour variable of the caller,
/// `TERM=xterm-256color`, then `env`.
pub fn command(args: &[String], env: &[(String, String)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_immuta-gitops"));
    cmd.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("IMMUTA")
            || ["NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE"].contains(&k.as_str())
        {
            cmd.env_remove(k);
        }
    }
    cmd.env("TERM", "xterm-256color");
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    cmd
}

/// Runs the binary under a terminal; for each `(wait_for, answer)` waits for the text,
/// then types the answer and Enter. Reads to the end and reaps the process.
pub async fn run(
    args: Vec<String>,
    env: Vec<(String, String)>,
    dialogue: Vec<(&'static str, String)>,
) -> PtyRun {
    tokio::task::spawn_blocking(move || {
        let mut s = Session::spawn(command(&args, &env)).expect("spawn under a pty");
        s.set_expect_timeout(Some(PTY_TIMEOUT));
        let _ = s.get_process_mut().set_window_size(120, 40);
        let mut output = Vec::new();
        for (wait_for, answer) in dialogue {
            let found = s
                .expect(wait_for)
                .unwrap_or_else(|e| panic!("waiting for {wait_for:?}: {e}"));
            output.extend_from_slice(found.as_bytes());
            s.send_line(answer).expect("type the answer");
        }
        let rest = s.expect(Eof).expect("output ends");
        output.extend_from_slice(rest.as_bytes());
        let code = match s.get_process().wait().expect("reap") {
            WaitStatus::Exited(_, code) => Some(code),
            _ => None,
        };
        PtyRun {
            output: String::from_utf8_lossy(&output).replace('\r', ""),
            code,
        }
    })
    .await
    .expect("pty task")
}
