//! The real D1 engine on this machine: Miniflare 4 (workerd) from npm, serving D1's HTTP API
//! routes (`/raw`, `/query`) on `127.0.0.1` through the worker in `tests/d1-server`.
//!
//! [`LocalD1Server::start`] spawns `node tests/d1-server/launcher.mjs` in its own process
//! group, waits for its `READY <url>` line and, when dropped, kills the whole group (killing
//! node alone would leave workerd running). The database lives in a temporary folder removed
//! on drop. If the npm packages are missing, it fails with the command to run: it never skips.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use thread_flow::D1Database;
use thread_flow::client::http::{HttpConfig, RetryPolicy};

/// How long to wait for Miniflare to print its ready line.
pub const START_TIMEOUT: Duration = Duration::from_secs(90);

/// Why the local D1 server could not start.
#[derive(Debug)]
pub struct HarnessError(pub String);

impl std::fmt::Display for HarnessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HarnessError {}

/// The folder holding `package.json`, `launcher.mjs` and `worker.mjs`.
pub fn server_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("d1-server")
}

/// A running Miniflare D1 server; stopped (whole process group) when dropped.
pub struct LocalD1Server {
    child: Child,
    base_url: String,
    token: String,
    account: String,
    database: String,
    stderr: Arc<Mutex<String>>,
    persist: Option<tempfile::TempDir>,
    stopped: bool,
}

impl std::fmt::Debug for LocalD1Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalD1Server")
            .field("base_url", &self.base_url)
            .field("pid", &self.child.id())
            .finish_non_exhaustive()
    }
}

impl LocalD1Server {
    /// Starts Miniflare on a free port with a fresh database and a random token.
    pub fn start() -> Result<LocalD1Server, HarnessError> {
        let dir = server_dir();
        if !dir
            .join("node_modules")
            .join("miniflare")
            .join("package.json")
            .is_file()
        {
            return Err(HarnessError(format!(
                "the local D1 server's npm packages are not installed in {}: run `scripts/test.sh` \
                 (it installs them) or `npm ci` in tests/d1-server (Node.js 20+ needed)",
                dir.display()
            )));
        }
        let persist = tempfile::Builder::new()
            .prefix("thread-flow-miniflare-")
            .tempdir()
            .map_err(|e| HarnessError(format!("cannot create a temporary folder: {e}")))?;
        let token = format!(
            "miniflare-{:016x}{:016x}",
            fastrand::u64(..),
            fastrand::u64(..)
        );
        let account = "local-account".to_owned();
        let database = "local-database".to_owned();
        let mut child = Command::new("node")
            .arg("launcher.mjs")
            .args([
                "--account",
                &account,
                "--database",
                &database,
                "--port",
                "0",
            ])
            .arg("--persist")
            .arg(persist.path())
            .env("D1_SERVER_TOKEN", &token)
            .current_dir(&dir)
            // Closing stdin (this process exiting) also stops the launcher: a safety net.
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| {
                HarnessError(format!(
                    "cannot run `node` for the local D1 server: {e}; install Node.js 20+ and run \
                     `scripts/test.sh`"
                ))
            })?;
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(mut err) = child.stderr.take() {
            let sink = Arc::clone(&stderr);
            std::thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                while let Ok(n) = err.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    let mut s = sink.lock().unwrap_or_else(PoisonError::into_inner);
                    s.push_str(&String::from_utf8_lossy(&chunk[..n]));
                    if s.len() > 64 * 1024 {
                        let cut = s.len() - 32 * 1024;
                        let cut = (cut..s.len())
                            .find(|i| s.is_char_boundary(*i))
                            .unwrap_or(s.len());
                        s.drain(..cut);
                    }
                }
            });
        }
        let (ready_tx, ready_rx) = mpsc::channel::<String>();
        if let Some(out) = child.stdout.take() {
            std::thread::spawn(move || {
                let mut sent = false;
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    if !sent && line.starts_with("READY ") {
                        let _ = ready_tx.send(line);
                        sent = true;
                    }
                }
            });
        }
        let mut server = LocalD1Server {
            child,
            base_url: String::new(),
            token,
            account,
            database,
            stderr,
            persist: Some(persist),
            stopped: false,
        };
        let started = Instant::now();
        let line = loop {
            match ready_rx.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => break line,
                Err(mpsc::RecvTimeoutError::Timeout) if started.elapsed() < START_TIMEOUT => {
                    if let Ok(Some(status)) = server.child.try_wait() {
                        return Err(server.failure(&format!("the launcher exited with {status}")));
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(server.failure(&format!(
                        "no ready line within {} s",
                        START_TIMEOUT.as_secs()
                    )));
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(
                        server.failure("the launcher closed its output before it was ready")
                    );
                }
            }
        };
        let url = line.split_whitespace().nth(1).unwrap_or_default();
        if !url.starts_with("http://127.0.0.1:") {
            return Err(server.failure(&format!("unexpected ready line `{line}`")));
        }
        server.base_url = url.to_owned();
        Ok(server)
    }

    fn failure(&self, what: &str) -> HarnessError {
        std::thread::sleep(Duration::from_millis(100));
        let stderr = self
            .stderr
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        HarnessError(format!(
            "the local D1 server (Miniflare) did not start: {what}; its stderr:\n{}\n\
             (if packages are missing or broken, run `npm ci` in tests/d1-server)",
            stderr.trim()
        ))
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The token the server accepts.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The account id in the URL.
    pub fn account_id(&self) -> &str {
        &self.account
    }

    /// The database id in the URL.
    pub fn database_id(&self) -> &str {
        &self.database
    }

    /// The process group id (the launcher's pid).
    pub fn process_group(&self) -> u32 {
        self.child.id()
    }

    /// An [`HttpConfig`] for this server: no client-side rate limit, quick retries.
    pub fn http_config(&self) -> HttpConfig {
        HttpConfig::new(
            &self.base_url,
            &self.account,
            &self.database,
            self.token.clone(),
        )
        .with_rate_limit(None)
        .with_retry(
            RetryPolicy::default()
                .with_backoff(Duration::from_millis(20), Duration::from_millis(500))
                .with_deadline(Duration::from_secs(60)),
        )
    }

    /// A [`D1Database`] on [`LocalD1Server::http_config`].
    pub fn database(&self) -> thread_flow::Result<D1Database> {
        D1Database::http_with(self.http_config())
    }

    /// Stops the server now (also done on drop).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if std::mem::replace(&mut self.stopped, true) {
            return;
        }
        let group = format!("-{}", self.child.id());
        let signal = |sig: &str| {
            let _ = Command::new("kill")
                .args([sig, "--", &group])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        };
        if matches!(self.child.try_wait(), Ok(None)) {
            signal("-TERM");
            let until = Instant::now() + Duration::from_secs(5);
            while Instant::now() < until && matches!(self.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        // Whatever is left of the group (workerd) goes too.
        signal("-KILL");
        let _ = self.child.wait();
        // Orphans are reaped by init: wait until the group is really empty.
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until && group_alive(&group) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some(dir) = self.persist.take() {
            let _ = dir.close();
        }
    }
}

/// Whether any process of the group `-PGID` still exists (zombies included).
fn group_alive(group: &str) -> bool {
    Command::new("kill")
        .args(["-0", "--", group])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Drop for LocalD1Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}
