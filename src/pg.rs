//! A throwaway PostgreSQL cluster for ReCoco's state: `initdb` + `pg_ctl` on a private data
//! directory and a free `127.0.0.1` port, stopped on drop (`pg_ctl stop -m immediate`, or `-m fast` for a kept cluster).
//!
//! ReCoco's incremental engine keeps its tracking tables in PostgreSQL. Tests and the
//! code-index example start their own cluster with [`TempPostgres::start`] (fresh, deleted on
//! drop) or [`TempPostgres::start_or_reuse`] (kept in a directory for the next run, so updates
//! stay incremental). Only the standard library is used.
//!
//! `initdb` refuses to run as root: when this process is root, every PostgreSQL binary runs as
//! the `postgres` user (through `runuser`, or `su`) on a data directory that user owns.
//!
//! ```no_run
//! let pg = thread_flow_suite::pg::TempPostgres::start()?;
//! println!("ReCoco state in {}", pg.url());
//! # Ok::<(), std::io::Error>(())
//! ```

use std::ffi::OsString;
use std::fs;
use std::io;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Environment variable naming the directory holding `initdb` and `pg_ctl` (checked first).
pub const PG_BIN_DIR_ENV: &str = "PG_BIN_DIR";

/// The superuser created by `initdb` (trust authentication, local connections only).
pub const SUPERUSER: &str = "postgres";

/// The unprivileged OS user PostgreSQL runs as when this process is root.
pub const SERVICE_USER: &str = "postgres";

/// A running PostgreSQL cluster owned by this process.
#[derive(Debug)]
pub struct TempPostgres {
    bin_dir: PathBuf,
    /// Directory holding `data/` and the server log (removed on drop unless kept).
    root: PathBuf,
    data_dir: PathBuf,
    port: u16,
    run_as: Option<String>,
    keep: bool,
    stopped: bool,
}

impl TempPostgres {
    /// Starts a fresh cluster in a new temporary directory; everything is deleted on drop.
    ///
    /// Errors say which binary is missing and how to install it, or quote the server log.
    pub fn start() -> io::Result<TempPostgres> {
        let bin_dir = find_bin_dir()?;
        let run_as = service_user_if_root()?;
        let root = unique_temp_dir("thread-flow-pg")?;
        let result = TempPostgres::init_and_start(bin_dir, root.clone(), run_as, false);
        if result.is_err() {
            let _ = fs::remove_dir_all(&root);
        }
        result
    }

    /// Starts the cluster kept under `dir`, a directory dedicated to it (created and initialised
    /// on first use; reused, or adopted if still running, afterwards), so ReCoco's
    /// tracking state survives to the next run. The directory is kept on drop; the server is
    /// stopped.
    ///
    /// When this process is root and the `postgres` user cannot reach `dir` (for example under
    /// `/root`), the cluster lives in a stable directory under the system temp dir instead;
    /// [`TempPostgres::root_dir`] tells where.
    pub fn start_or_reuse(dir: impl AsRef<Path>) -> io::Result<TempPostgres> {
        let bin_dir = find_bin_dir()?;
        let run_as = service_user_if_root()?;
        fs::create_dir_all(dir.as_ref())?;
        let dir = fs::canonicalize(dir.as_ref())?;
        let root = match &run_as {
            Some(user) if !user_can_enter(user, &dir) => {
                std::env::temp_dir().join(format!("thread-flow-pg-{:016x}", stable_hash(&dir)))
            }
            _ => dir,
        };
        fs::create_dir_all(&root)?;
        TempPostgres::init_and_start(bin_dir, root, run_as, true)
    }

    fn init_and_start(
        bin_dir: PathBuf,
        root: PathBuf,
        run_as: Option<String>,
        keep: bool,
    ) -> io::Result<TempPostgres> {
        let data_dir = root.join("data");
        let mut pg = TempPostgres {
            bin_dir,
            root,
            data_dir,
            port: 0,
            run_as,
            keep,
            stopped: true,
        };
        if let Some(user) = &pg.run_as {
            chown_to_user(user, &pg.root)?;
        }
        if !pg.data_dir.join("PG_VERSION").exists() {
            pg.initdb()?;
        } else if let Some(port) = pg.running_port() {
            // A previous run left the server up (killed before its drop ran): adopt it.
            pg.port = port;
            pg.stopped = false;
            return Ok(pg);
        }
        let mut last_error = None;
        for _ in 0..3 {
            pg.port = free_port()?;
            match pg.pg_ctl_start() {
                Ok(()) => {
                    pg.stopped = false;
                    return Ok(pg);
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("PostgreSQL did not start")))
    }

    /// `postgres://postgres@127.0.0.1:{port}/postgres`: the URL for ReCoco's
    /// `Settings.database.url`.
    pub fn url(&self) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/postgres", self.port)
    }

    /// The TCP port the server listens on (127.0.0.1 only).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory holding the cluster (`data/`, `server.log`).
    pub fn root_dir(&self) -> &Path {
        &self.root
    }

    /// The server log, for diagnostics.
    pub fn log_path(&self) -> PathBuf {
        self.root.join("server.log")
    }

    /// Stops the server now. Called by drop.
    ///
    /// A throwaway cluster stops with `-m immediate`. A kept one ([`TempPostgres::start_or_reuse`])
    /// stops with `-m fast`: it runs with `fsync=off` and `synchronous_commit=off`, so only a
    /// clean shutdown writes the last commits out for the next run to see.
    pub fn stop(&mut self) -> io::Result<()> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        let mode = if self.keep { "fast" } else { "immediate" };
        let out = self.run(
            "pg_ctl",
            &[
                "stop".into(),
                "-D".into(),
                self.data_dir.clone().into(),
                "-m".into(),
                mode.into(),
                "-w".into(),
            ],
        )?;
        check(&out, "pg_ctl stop")
    }

    fn initdb(&self) -> io::Result<()> {
        let out = self.run(
            "initdb",
            &[
                "-D".into(),
                self.data_dir.clone().into(),
                "-U".into(),
                SUPERUSER.into(),
                "-A".into(),
                "trust".into(),
                "-E".into(),
                "UTF8".into(),
                "--locale=C".into(),
                "--no-sync".into(),
            ],
        )?;
        check(&out, "initdb")
    }

    fn pg_ctl_start(&self) -> io::Result<()> {
        // TCP on 127.0.0.1 only, no Unix socket (no path-length or permission limits on the
        // data directory's location). A throwaway cluster trades durability for speed; a kept
        // one only skips waiting for commits (a crash loses the last moments, never the cluster).
        let durability = if self.keep {
            "-c synchronous_commit=off"
        } else {
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        };
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' {durability} \
             -c max_connections=100",
            self.port
        );
        let out = self.run(
            "pg_ctl",
            &[
                "start".into(),
                "-D".into(),
                self.data_dir.clone().into(),
                "-l".into(),
                self.log_path().into(),
                "-w".into(),
                "-t".into(),
                "60".into(),
                "-o".into(),
                options.into(),
            ],
        )?;
        check(&out, "pg_ctl start").map_err(|e| {
            let log = fs::read_to_string(self.log_path()).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            io::Error::other(format!(
                "{e}\nserver log ({}):\n{}",
                self.log_path().display(),
                tail.join("\n")
            ))
        })
    }

    /// The port of a server already running on this data directory, if any.
    fn running_port(&self) -> Option<u16> {
        let out = self
            .run(
                "pg_ctl",
                &["status".into(), "-D".into(), self.data_dir.clone().into()],
            )
            .ok()?;
        if !out.status.success() {
            return None;
        }
        // postmaster.pid: line 4 is the port.
        let pid_file = fs::read_to_string(self.data_dir.join("postmaster.pid")).ok()?;
        pid_file.lines().nth(3)?.trim().parse().ok()
    }

    fn run(&self, program: &str, args: &[OsString]) -> io::Result<Output> {
        let bin = self.bin_dir.join(program);
        let mut cmd = match &self.run_as {
            None => Command::new(&bin),
            Some(user) => {
                if Path::new("/usr/sbin/runuser").exists() || which("runuser").is_some() {
                    let mut c = Command::new("runuser");
                    c.arg("-u").arg(user).arg("--").arg(&bin);
                    c
                } else {
                    let mut line = shell_quote(bin.as_os_str());
                    for a in args {
                        line.push(' ');
                        line.push_str(&shell_quote(a));
                    }
                    let mut c = Command::new("su");
                    c.arg(user).arg("-s").arg("/bin/sh").arg("-c").arg(line);
                    return output_with_timeout(c);
                }
            }
        };
        cmd.args(args);
        output_with_timeout(cmd)
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        let _ = self.stop();
        if !self.keep {
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}

fn output_with_timeout(mut cmd: Command) -> io::Result<Output> {
    // pg_ctl -w waits at most 60 s itself; the child never outlives it.
    cmd.stdin(Stdio::null()).env("LC_ALL", "C").current_dir("/");
    cmd.output()
}

fn check(out: &Output, what: &str) -> io::Result<()> {
    if out.status.success() {
        return Ok(());
    }
    Err(io::Error::other(format!(
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim(),
        String::from_utf8_lossy(&out.stdout).trim()
    )))
}

/// Finds the directory holding `initdb` and `pg_ctl`: `$PG_BIN_DIR`, then `PATH`, then the usual
/// install locations (newest version first).
pub fn find_bin_dir() -> io::Result<PathBuf> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os(PG_BIN_DIR_ENV) {
        let dir = PathBuf::from(dir);
        if has_both(&dir) {
            return Ok(dir);
        }
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "{PG_BIN_DIR_ENV}={} does not contain initdb and pg_ctl",
                dir.display()
            ),
        ));
    }
    if let Some(initdb) = which("initdb") {
        // Follow symlinks (/usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb) so
        // pg_ctl finds `postgres` next to itself.
        let real = fs::canonicalize(&initdb).unwrap_or(initdb);
        if let Some(dir) = real.parent()
            && has_both(dir)
        {
            return Ok(dir.to_path_buf());
        }
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    for parent in [
        "/usr/lib/postgresql",
        "/usr/local/lib/postgresql",
        "/opt/homebrew/opt",
        "/usr/local/opt",
    ] {
        if let Ok(entries) = fs::read_dir(parent) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if parent.ends_with("opt") && !name.starts_with("postgresql") {
                    continue;
                }
                candidates.push(e.path().join("bin"));
            }
        }
    }
    if let Ok(entries) = fs::read_dir("/usr") {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with("pgsql") {
                candidates.push(e.path().join("bin"));
            }
        }
    }
    candidates.push(PathBuf::from("/usr/local/pgsql/bin"));
    // Newest version first: compare the numeric part of the version directory.
    candidates.sort_by_key(|p| std::cmp::Reverse(version_of(p)));
    if let Some(dir) = candidates.into_iter().find(|d| has_both(d)) {
        return Ok(dir);
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        "PostgreSQL server binaries (initdb, pg_ctl) not found in $PG_BIN_DIR, PATH or \
         /usr/lib/postgresql/*/bin. ReCoco keeps its incremental state in PostgreSQL; install the \
         server: `sudo apt-get install postgresql` (Debian/Ubuntu), `sudo dnf install \
         postgresql-server` (Fedora), `brew install postgresql@15` (macOS), or set \
         PG_BIN_DIR to the directory holding initdb and pg_ctl.",
    ))
}

fn version_of(path: &Path) -> u32 {
    path.components()
        .filter_map(|c| {
            let digits: String = c
                .as_os_str()
                .to_string_lossy()
                .chars()
                .filter(|ch| ch.is_ascii_digit())
                .collect();
            digits.parse::<u32>().ok()
        })
        .next_back()
        .unwrap_or(0)
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// `Some("postgres")` when this process is root (initdb refuses root), else `None`.
fn service_user_if_root() -> io::Result<Option<String>> {
    // /proc/self is owned by the effective uid; fall back to `id -u`.
    let uid = match fs::metadata("/proc/self") {
        Ok(m) => m.uid(),
        Err(_) => {
            let out = Command::new("id").arg("-u").output()?;
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .unwrap_or(u32::MAX)
        }
    };
    if uid != 0 {
        return Ok(None);
    }
    if user_ids(SERVICE_USER).is_none() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "running as root, and initdb refuses root; the `{SERVICE_USER}` user does not \
                 exist. Create it (`useradd --system {SERVICE_USER}`) or run as a normal user."
            ),
        ));
    }
    Ok(Some(SERVICE_USER.to_string()))
}

/// `(uid, gid)` of `user` from /etc/passwd.
fn user_ids(user: &str) -> Option<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut parts = line.split(':');
        if parts.next()? != user {
            return None;
        }
        let _password = parts.next()?;
        let uid = parts.next()?.parse().ok()?;
        let gid = parts.next()?.parse().ok()?;
        Some((uid, gid))
    })
}

fn chown_to_user(user: &str, dir: &Path) -> io::Result<()> {
    let (uid, gid) = user_ids(user)
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no user `{user}`")))?;
    chown_recursive(dir, uid, gid)
}

fn chown_recursive(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
    if fs::symlink_metadata(path)?.is_dir() {
        for entry in fs::read_dir(path)? {
            chown_recursive(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}

fn user_can_enter(user: &str, dir: &Path) -> bool {
    Command::new("runuser")
        .arg("-u")
        .arg(user)
        .arg("--")
        .arg("test")
        .arg("-x")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn free_port() -> io::Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}

fn unique_temp_dir(prefix: &str) -> io::Result<PathBuf> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .subsec_nanos();
    for _ in 0..100 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("{prefix}-{}-{n}-{nanos:x}", std::process::id()));
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(
        "cannot create a unique temporary directory",
    ))
}

fn stable_hash(path: &Path) -> u64 {
    // FNV-1a: stable across runs and Rust versions (unlike DefaultHasher).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in path.as_os_str().as_encoded_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn shell_quote(s: &std::ffi::OsStr) -> String {
    format!("'{}'", s.to_string_lossy().replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_for_sh() {
        assert_eq!(shell_quote("a b".as_ref()), "'a b'");
        assert_eq!(shell_quote("it's".as_ref()), "'it'\\''s'");
    }

    #[test]
    fn versions_sort_newest_first() {
        assert_eq!(version_of(Path::new("/usr/lib/postgresql/15/bin")), 15);
        assert_eq!(version_of(Path::new("/usr/pgsql-16/bin")), 16);
    }
}
