//! Runs one of the admin's own programs (`az`, `azd`, `bash`, `rustc`) and hands back what it
//! said, within a bounded wait: a program that hangs costs one wait and is then killed with
//! everything it started. This is the only place preflight starts a process.
//!
//! It must never put a secret on a command line it builds itself, and never print what a
//! program said: the caller decides what of it reaches the admin.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How much of a program's stdout or stderr is kept; the rest is read and dropped.
const OUTPUT_KEPT: u64 = 16 * 1024 * 1024;

/// What running a program came to.
#[derive(Debug)]
pub enum Ran {
    /// It ended by itself (a code of -1 means a signal ended it).
    Exited {
        code: i32,
        stdout: String,
        stderr: String,
    },
    /// There is no such program on PATH.
    Missing,
    /// It did not end within the wait, and was killed.
    TimedOut(Duration),
    /// It could not be started, and why.
    Failed(String),
}

/// Starts programs with a bounded wait each.
#[derive(Clone, Debug)]
pub struct Runner {
    timeout: Duration,
}

impl Runner {
    pub fn new(timeout: Duration) -> Runner {
        Runner { timeout }
    }

    /// Runs `program` with `args` (stdin empty, the process's environment).
    pub fn run(&self, program: &str, args: &[&str]) -> Ran {
        self.run_with(program, args, &[])
    }

    /// Runs `program` with `args` and the variables `envs` added to the environment.
    pub fn run_with(&self, program: &str, args: &[&str], envs: &[(&str, &str)]) -> Ran {
        let mut command = Command::new(program);
        command
            .args(args)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // The program gets its own process group, so that a timeout ends what it started too
        // (`az` is a shell script that starts Python, which would otherwise hold the pipes
        // open).
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ran::Missing,
            Err(error) => return Ran::Failed(error.to_string()),
        };
        let id = child.id();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let (sender, receiver) = mpsc::channel();
        // The waiter owns the child: it reads both pipes (stderr on a thread of its own, so
        // that neither fills while the other is read), then reaps it.
        std::thread::spawn(move || {
            let errors = std::thread::spawn(move || read_bounded(stderr));
            let stdout = read_bounded(stdout);
            let stderr = errors.join().unwrap_or_default();
            let code = child
                .wait()
                .ok()
                .and_then(|status| status.code())
                .unwrap_or(-1);
            let _ = sender.send(Ran::Exited {
                code,
                stdout,
                stderr,
            });
        });
        match receiver.recv_timeout(self.timeout) {
            Ok(ran) => ran,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                kill_group(id);
                Ran::TimedOut(self.timeout)
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Ran::Failed("its output could not be read".to_owned())
            }
        }
    }
}

fn read_bounded(pipe: Option<impl Read>) -> String {
    let Some(pipe) = pipe else {
        return String::new();
    };
    let mut bytes = Vec::new();
    let mut pipe = pipe;
    let _ = pipe.by_ref().take(OUTPUT_KEPT).read_to_end(&mut bytes);
    // Whatever is left is drained, so the program is not stopped by a full pipe.
    let _ = std::io::copy(&mut pipe, &mut std::io::sink());
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Ends the process group `id` leads: the program and everything it started. The waiter has
/// not reaped the leader (it has not answered), so the group id still names it.
#[cfg(unix)]
fn kill_group(id: u32) {
    if let Ok(group) = i32::try_from(id) {
        // SAFETY: kill(2) takes plain integers and touches no memory of ours.
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
    }
}

#[cfg(not(unix))]
fn kill_group(_id: u32) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_that_is_not_there_is_missing() {
        let ran = Runner::new(Duration::from_secs(5)).run("mfa-no-such-program-here", &[]);
        assert!(matches!(ran, Ran::Missing), "{ran:?}");
    }

    #[test]
    fn a_program_s_code_and_output_are_kept() {
        let ran = Runner::new(Duration::from_secs(10)).run_with(
            "sh",
            &["-c", "echo out; echo err >&2; echo \"$X\"; exit 3"],
            &[("X", "set")],
        );
        let Ran::Exited {
            code,
            stdout,
            stderr,
        } = ran
        else {
            panic!("it ran: {ran:?}");
        };
        assert_eq!(
            (code, stdout.as_str(), stderr.as_str()),
            (3, "out\nset\n", "err\n")
        );
    }

    #[test]
    fn a_program_that_hangs_costs_one_wait_with_what_it_started() {
        let started = std::time::Instant::now();
        let ran = Runner::new(Duration::from_millis(300)).run("sh", &["-c", "sleep 30; true"]);
        assert!(matches!(ran, Ran::TimedOut(_)), "{ran:?}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
