//! A server process started from the test binary's build, its log lines, and the temporary
//! upload files it leaves: for tests of the real binary (signals, several instances).

use super::CLIENT_TIMEOUT;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Instant;

pub const BIN: &str = env!("CARGO_BIN_EXE_http-server");

/// A server process, killed if the test ends before it exits.
pub struct Proc {
    pub child: Child,
    pub addr: SocketAddr,
    pub log: Receiver<String>,
    /// Lines read while waiting for another (`wait_log`), still to be looked at.
    early: Vec<String>,
}

impl Proc {
    pub fn start(dir: &Path, args: &[&str]) -> Proc {
        Proc::start_under(&[], dir, args)
    }

    /// Starts the server as the last argument of `wrapper` (`unshare ...`), if one is given.
    pub fn start_under(wrapper: &[&str], dir: &Path, args: &[&str]) -> Proc {
        let command = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(BIN);
                c
            }
            None => Command::new(BIN),
        };
        let dir = dir.to_str().expect("a UTF-8 temporary path");
        let mut all = vec!["--quiet", "--directory", dir];
        all.extend_from_slice(args);
        Proc::launch(command, &all)
    }

    /// Starts the server with `args` only (on port 0): it logs, and serves no folder unless
    /// `args` name one.
    pub fn spawn(args: &[&str]) -> Proc {
        Proc::launch(Command::new(BIN), args)
    }

    fn launch(mut command: Command, args: &[&str]) -> Proc {
        let mut child = command
            .args(["--port", "0"])
            .args(args)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let (tx, log) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut p = Proc {
            child,
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            log,
            early: Vec::new(),
        };
        // Lines before the address (the start-up clean-up's) are kept for `wait_log`. If there
        // is no address, `p` is dropped by the panic, which kills the process.
        let listening = p.wait_log("listening on ");
        p.addr = listening
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .unwrap_or_else(|| panic!("no address in {listening:?}"))
            .parse()
            .unwrap();
        p
    }

    pub fn connect(&self) -> TcpStream {
        super::connect(self.addr)
    }

    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name}");
    }

    /// Waits for a log line containing `text`; returns it.
    pub fn wait_log(&mut self, text: &str) -> String {
        if let Some(i) = self.early.iter().position(|l| l.contains(text)) {
            return self.early.remove(i);
        }
        let deadline = Instant::now() + CLIENT_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(line) => self.early.push(line),
                Err(_) => panic!("no log line with {text:?} (saw {:?})", self.early),
            }
        }
    }

    pub fn wait_exit(&mut self) -> ExitStatus {
        super::wait_for(Instant::now() + CLIENT_TIMEOUT, "the server exited", || {
            self.child.try_wait().unwrap()
        })
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Names in `dir` that are temporary upload files.
pub fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".http-server-upload-"))
        .collect()
}

/// Waits until the server has begun an upload: its temporary file exists.
pub fn wait_for_upload_start(dir: &Path) {
    super::wait_until(Instant::now() + CLIENT_TIMEOUT, "the upload began", || {
        !temp_files(dir).is_empty()
    });
}
