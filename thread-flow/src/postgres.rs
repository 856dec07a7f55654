//! The embedded default for ReCoco's state: a private PostgreSQL cluster started from the
//! machine's own PostgreSQL binaries.
//!
//! ReCoco (recoco-core 0.2) keeps its incremental state (what each flow has seen and written)
//! in PostgreSQL. When you have no database for it, [`PrivatePostgres`] starts one that only
//! this program can use, and [`PrivatePostgres::database_spec`] is what goes into ReCoco's
//! `Settings.database`:
//!
//! ```no_run
//! use thread_flow::postgres::{PrivatePostgres, shutdown_signal};
//! # async fn run(_: &PrivatePostgres) -> anyhow::Result<()> { Ok(()) }
//! # async fn demo() -> anyhow::Result<()> {
//! // Kept in `.thread-flow/postgres`, so the next run only processes what changed.
//! let pg = PrivatePostgres::start_or_reuse(".thread-flow/postgres")?;
//! recoco_core::lib_context::init_lib_context(Some(recoco_core::settings::Settings {
//!     database: Some(pg.database_spec()),
//!     ..Default::default()
//! }))
//! .await?;
//! tokio::select! {
//!     result = run(&pg) => result?,
//!     // SIGINT (Ctrl-C), SIGTERM, SIGHUP: stop; dropping `pg` stops the server.
//!     _ = shutdown_signal() => eprintln!("interrupted"),
//! }
//! # Ok(()) }
//! ```
//!
//! # What keeps other users out
//!
//! - No TCP at all (`listen_addresses = ''`): the server listens on a Unix socket only, in a
//!   directory of mode `0700` (the socket itself is `0700` too), so no other account can even
//!   reach it. When `<dir>/run/.s.PGSQL.5432` would exceed the Unix socket path limit, the
//!   socket goes to a fresh directory with an unpredictable name (`thread-flow-pg-XXXXXX`,
//!   mode `0700`) in the system temp directory, removed when the server stops.
//! - Password authentication (`scram-sha-256`, never `trust`): `initdb` gets a random
//!   password (32 bytes from the operating system's random source) kept in
//!   `<root>/password`, mode `0600`. The cluster directory is `0700`.
//!   [`PrivatePostgres`]'s `Debug` never shows the password; ReCoco's own
//!   `DatabaseConnectionSpec` derives `Debug` and does, so do not log that value.
//! - When this process is root (`initdb` refuses root), every PostgreSQL program runs as the
//!   `postgres` user (through `runuser`), on directories that user owns.
//!
//! # Lifecycle
//!
//! - A run holds an exclusive `flock` on `<root>/lock` while it uses the cluster. A second run
//!   on the same state does not wait: it fails at once with [`io::ErrorKind::ResourceBusy`]
//!   and a message naming the cluster, and leaves the first run's server alone.
//! - A server is stopped only by the run that started it (on [`PrivatePostgres::stop`] or
//!   drop). A server left running by a run that was killed (the lock is free, the server is up
//!   and serves this data directory) is stopped and started again with the settings above.
//! - A `postmaster.pid` whose process is gone, or is alive but is not a PostgreSQL server
//!   working in this data directory (checked through `/proc/PID/exe` and `/proc/PID/cwd`), is
//!   removed, not trusted.
//! - A kept cluster created by thread-flow before password authentication (`trust`, TCP) may
//!   have been changed by any local user while it ran, so it is not upgraded in place: it is
//!   deleted and initialised again. It only held ReCoco's tracking state, so the next run
//!   processes everything again (the D1 tables are kept).

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use recoco_core::settings::DatabaseConnectionSpec;

use crate::Secret;

/// Environment variable naming the directory holding `initdb`, `pg_ctl` and `postgres`
/// (checked first by [`find_bin_dir`]).
pub const PG_BIN_DIR_ENV: &str = "PG_BIN_DIR";

/// The database superuser created by `initdb` (password authentication).
pub const SUPERUSER: &str = "postgres";

/// The operating-system user PostgreSQL runs as when this process is root.
pub const SERVICE_USER: &str = "postgres";

/// The server's port: only a part of the socket's file name (`.s.PGSQL.5432`), since the
/// server listens on no TCP address and the socket directory is private.
pub const PORT: u16 = 5432;

/// Longest socket path used: `sun_path` holds 108 bytes on Linux and 104 on macOS, both
/// including the final NUL.
const MAX_SOCKET_PATH: usize = 103;

/// A PostgreSQL server this process started on a private cluster, for ReCoco's state.
///
/// See the [module documentation](self) for what keeps other users out and how runs share a
/// kept cluster.
#[derive(Debug)]
pub struct PrivatePostgres {
    bin_dir: PathBuf,
    /// The cluster directory: `data/`, `password`, `lock`, `run/`, `server.log`.
    root: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    password: Secret,
    service_user: Option<ServiceUser>,
    keep: bool,
    /// This run started the server and has not stopped it yet.
    running: bool,
    // Dropped after `Drop::drop` stopped the server, in this order.
    socket_tmp: Option<tempfile::TempDir>,
    temp_root: Option<tempfile::TempDir>,
    lock: Option<File>,
}

impl PrivatePostgres {
    /// Starts the cluster kept in `dir`, a directory dedicated to it (created with mode `0700`
    /// and initialised on first use, reused afterwards), so ReCoco's state survives to the next
    /// run. The directory is kept on drop; the server is stopped.
    ///
    /// Fails with [`io::ErrorKind::ResourceBusy`] when another run uses the same cluster.
    ///
    /// When this process is root and the `postgres` user cannot enter the parent of `dir`
    /// (for example a `0700` `.thread-flow` directory), the cluster lives in
    /// `~postgres/thread-flow/<key>` instead (mode `0700`, owned by `postgres`, so only root and
    /// `postgres` can read it), where `<key>` is a random id kept in `dir/cluster-key` plus a
    /// hash of `dir`'s path; `dir/cluster-location` names that directory, and
    /// [`PrivatePostgres::root_dir`] returns it. Deleting `dir` starts a fresh cluster next
    /// time, and the next run that keeps a cluster there deletes the clusters whose state
    /// directory is gone (or no longer holds their key), unless a run is using them.
    pub fn start_or_reuse(dir: impl AsRef<Path>) -> io::Result<PrivatePostgres> {
        let bin_dir = find_bin_dir()?;
        let service_user = ServiceUser::if_root()?;
        let dir = dir.as_ref();
        claim_state_dir(dir, service_user.as_ref().map(|u| u.uid))?;
        crate::local_state::create_private_dir(dir)
            .map_err(|e| annotate(e, &format!("cannot create {}", dir.display())))?;
        let dir = fs::canonicalize(dir)?;
        let root = match &service_user {
            None => dir,
            Some(user) => {
                let root = user.cluster_root(&dir)?;
                if root != dir
                    && let Some(base) = root.parent()
                {
                    user.remove_abandoned_clusters(&bin_dir, base, &root);
                }
                root
            }
        };
        let lock = lock_cluster(&root)?;
        let mut pg = PrivatePostgres::new(bin_dir, root, service_user, true);
        pg.lock = Some(lock);
        pg.recover_and_start()?;
        Ok(pg)
    }

    /// Starts a fresh cluster in a new directory with an unpredictable name (mode `0700`) in
    /// the system temp directory; the server is stopped and everything deleted on drop.
    pub fn temporary() -> io::Result<PrivatePostgres> {
        let bin_dir = find_bin_dir()?;
        let service_user = ServiceUser::if_root()?;
        let temp = private_tempdir()?;
        let root = fs::canonicalize(temp.path())?;
        if let Some(user) = &service_user {
            user.chown(&root)?;
        }
        let lock = lock_cluster(&root)?;
        let mut pg = PrivatePostgres::new(bin_dir, root, service_user, false);
        pg.temp_root = Some(temp);
        pg.lock = Some(lock);
        pg.recover_and_start()?;
        Ok(pg)
    }

    fn new(
        bin_dir: PathBuf,
        root: PathBuf,
        service_user: Option<ServiceUser>,
        keep: bool,
    ) -> PrivatePostgres {
        PrivatePostgres {
            bin_dir,
            data_dir: root.join("data"),
            socket_dir: root.join("run"),
            root,
            password: Secret::new(String::new()),
            service_user,
            keep,
            running: false,
            socket_tmp: None,
            temp_root: None,
            lock: None,
        }
    }

    /// What goes into ReCoco's `Settings.database`: the Unix socket URL
    /// (`postgres://postgres@localhost:5432/postgres?host=<socket dir>`), the user and the
    /// password. The URL carries no password (ReCoco prints it in connection errors); the
    /// spec's own `Debug` does show the password, so do not log it.
    pub fn database_spec(&self) -> DatabaseConnectionSpec {
        DatabaseConnectionSpec {
            url: self.url(),
            user: Some(SUPERUSER.to_owned()),
            password: Some(self.password.expose().to_owned()),
            max_connections: 8,
            min_connections: 1,
        }
    }

    /// The connection URL without the password:
    /// `postgres://postgres@localhost:5432/postgres?host=<socket dir, percent-encoded>`.
    pub fn url(&self) -> String {
        format!(
            "postgres://{SUPERUSER}@localhost:{PORT}/postgres?host={}",
            percent_encode(&self.socket_dir.to_string_lossy())
        )
    }

    /// A `psql` command connected to this server (socket directory, user, database and
    /// `PGPASSWORD` in its environment; `-X -w`). Add `-c SQL` or `-f FILE`.
    pub fn psql(&self) -> Command {
        let local = self.bin_dir.join("psql");
        let mut cmd = Command::new(if local.is_file() {
            local
        } else {
            PathBuf::from("psql")
        });
        cmd.args(["-X", "-w", "-v", "ON_ERROR_STOP=1"])
            .env("PGHOST", &self.socket_dir)
            .env("PGPORT", PORT.to_string())
            .env("PGUSER", SUPERUSER)
            .env("PGDATABASE", "postgres")
            .env("PGPASSWORD", self.password.expose())
            .stdin(Stdio::null());
        cmd
    }

    /// The directory holding the cluster (`data/`, `password`, `lock`, `server.log`).
    pub fn root_dir(&self) -> &Path {
        &self.root
    }

    /// The directory holding the server's Unix socket (`.s.PGSQL.5432`).
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// The file holding the password (mode `0600`).
    pub fn password_path(&self) -> PathBuf {
        self.root.join("password")
    }

    /// The server log, for diagnostics.
    pub fn log_path(&self) -> PathBuf {
        self.root.join("server.log")
    }

    /// Stops the server now, if this run started it. Called by drop.
    ///
    /// A temporary cluster stops with `-m immediate`. A kept one stops with `-m fast`: a
    /// clean shutdown writes the last commits out for the next run (it runs with
    /// `synchronous_commit = off`).
    pub fn stop(&mut self) -> io::Result<()> {
        if !self.running {
            return Ok(());
        }
        self.running = false;
        let mode = if self.keep { "fast" } else { "immediate" };
        let result = self.pg_ctl_stop(mode);
        if result.is_err() && self.keep {
            return self.pg_ctl_stop("immediate");
        }
        result
    }

    fn pg_ctl_stop(&self, mode: &str) -> io::Result<()> {
        let out = self.run(
            "pg_ctl",
            &["stop", "-D", "data", "-m", mode, "-w", "-t", "60"].map(OsString::from),
        )?;
        check(&out, "pg_ctl stop")
    }

    /// Recovers what an earlier run left behind, initialises the cluster if needed, starts it.
    fn recover_and_start(&mut self) -> io::Result<()> {
        match self.postmaster()? {
            Postmaster::None => {}
            Postmaster::Stale(pid) => {
                tracing::warn!(
                    "{}: postmaster.pid names process {pid}, which is not a PostgreSQL server of \
                     this cluster; removing the stale file",
                    self.data_dir.display()
                );
                fs::remove_file(self.data_dir.join("postmaster.pid"))?;
            }
            Postmaster::Running(pid) => {
                // We hold the lock, so no live run uses this server: a killed run left it.
                tracing::warn!(
                    "{}: stopping PostgreSQL (pid {pid}) left running by an earlier run",
                    self.data_dir.display()
                );
                self.pg_ctl_stop("fast")
                    .or_else(|_| self.pg_ctl_stop("immediate"))?;
            }
        }
        let initialised = self.data_dir.join("PG_VERSION").is_file();
        if !initialised || !self.is_trusted()? {
            if initialised {
                tracing::warn!(
                    "{}: cluster created without password authentication (older thread-flow); \
                     any local user could change it, so it is initialised again and ReCoco \
                     processes everything once more",
                    self.root.display()
                );
            }
            if fs::symlink_metadata(&self.data_dir).is_ok() {
                fs::remove_dir_all(&self.data_dir)?;
            }
            self.initdb()?;
        }
        self.password = Secret::new(read_password(&self.password_path())?);
        self.prepare_socket_dir()?;
        self.pg_ctl_start()?;
        self.running = true;
        Ok(())
    }

    /// A cluster made by this module: its password file exists and no `pg_hba.conf` line
    /// trusts anyone.
    fn is_trusted(&self) -> io::Result<bool> {
        let has_password = fs::symlink_metadata(self.password_path())
            .map(|m| m.is_file() && m.len() > 0)
            .unwrap_or(false);
        let hba = match fs::read_to_string(self.data_dir.join("pg_hba.conf")) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        let trusts = hba.lines().any(|line| {
            let line = line.split('#').next().unwrap_or("");
            line.split_whitespace()
                .any(|w| w == "trust" || w == "ident" || w == "peer")
        });
        Ok(has_password && !trusts)
    }

    fn initdb(&mut self) -> io::Result<()> {
        write_password(&self.password_path(), self.service_user.as_ref())?;
        let mut args: Vec<OsString> = [
            "-D",
            "data",
            "-U",
            SUPERUSER,
            "--auth-local=scram-sha-256",
            "--auth-host=scram-sha-256",
            "--pwfile=password",
            "-E",
            "UTF8",
            "--locale=C",
        ]
        .map(OsString::from)
        .to_vec();
        if !self.keep {
            args.push("--no-sync".into());
        }
        let out = self.run("initdb", &args)?;
        check(&out, "initdb")
    }

    fn prepare_socket_dir(&mut self) -> io::Result<()> {
        let inside = self.root.join("run");
        if socket_dir_fits(&inside) {
            if fs::symlink_metadata(&inside).is_ok() {
                fs::remove_dir_all(&inside)?;
            }
            fs::DirBuilder::new().mode(0o700).create(&inside)?;
            if let Some(user) = &self.service_user {
                user.chown(&inside)?;
            }
            self.socket_dir = inside;
            return Ok(());
        }
        let temp = private_tempdir()?;
        let path = fs::canonicalize(temp.path())?;
        if !socket_dir_fits(&path) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "no usable directory for PostgreSQL's Unix socket: {} is too long for a \
                     socket path (at most {MAX_SOCKET_PATH} bytes) or holds one of , \" ' \\, and \
                     so does the temp directory {}; choose a shorter state directory or set \
                     TMPDIR to a short path",
                    inside.display(),
                    path.display()
                ),
            ));
        }
        if let Some(user) = &self.service_user {
            user.chown(&path)?;
        }
        self.socket_dir = path;
        self.socket_tmp = Some(temp);
        Ok(())
    }

    fn pg_ctl_start(&self) -> io::Result<()> {
        // pg_ctl hands `-o` to `/bin/sh`: the socket directory is single-quoted for it
        // (`socket_dir_fits` rules out quotes, commas and backslashes).
        let durability = if self.keep {
            "-c synchronous_commit=off"
        } else {
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        };
        let options = format!(
            "-p {PORT} -c listen_addresses='' -k '{}' -c unix_socket_permissions=0700 \
             -c password_encryption=scram-sha-256 -c max_connections=100 {durability}",
            self.socket_dir.to_string_lossy()
        );
        let args: Vec<OsString> = vec![
            "start".into(),
            "-D".into(),
            "data".into(),
            "-l".into(),
            "server.log".into(),
            "-w".into(),
            "-t".into(),
            "60".into(),
            "-o".into(),
            options.into(),
        ];
        let out = self.run("pg_ctl", &args)?;
        check(&out, "pg_ctl start").map_err(|e| {
            io::Error::other(format!(
                "{e}\nserver log ({}):\n{}",
                self.log_path().display(),
                log_tail(&self.log_path(), 15)
            ))
        })
    }

    /// What `data/postmaster.pid` says, checked against the process it names.
    fn postmaster(&self) -> io::Result<Postmaster> {
        let pid_file = self.data_dir.join("postmaster.pid");
        let text = match fs::read_to_string(&pid_file) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Postmaster::None),
            Err(e) => return Err(e),
        };
        let pid: u32 = match text.lines().next().and_then(|l| l.trim().parse().ok()) {
            Some(pid) if pid > 0 => pid,
            _ => return Ok(Postmaster::Stale(0)),
        };
        if !Path::new("/proc/self").is_dir() {
            // No /proc (not Linux): PostgreSQL's own check (the PID is alive) decides.
            let out = self.run("pg_ctl", &["status", "-D", "data"].map(OsString::from))?;
            return Ok(if out.status.success() {
                Postmaster::Running(pid)
            } else {
                Postmaster::Stale(pid)
            });
        }
        let data_dir = fs::canonicalize(&self.data_dir)?;
        let proc_dir = PathBuf::from(format!("/proc/{pid}"));
        let in_data_dir = fs::read_link(proc_dir.join("cwd")).is_ok_and(|cwd| cwd == data_dir);
        let is_postgres = fs::read_link(proc_dir.join("exe")).is_ok_and(|exe| {
            exe.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("postgres"))
        });
        Ok(if in_data_dir && is_postgres {
            Postmaster::Running(pid)
        } else {
            Postmaster::Stale(pid)
        })
    }

    /// Runs a PostgreSQL program in the cluster directory (relative paths only, so no path
    /// ever goes through `pg_ctl`'s shell), as the service user when root.
    fn run(&self, program: &str, args: &[OsString]) -> io::Result<Output> {
        let bin = self.bin_dir.join(program);
        let mut cmd = match &self.service_user {
            None => Command::new(&bin),
            Some(user) => {
                let mut c = user.command();
                c.arg(&bin);
                c
            }
        };
        cmd.args(args)
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .env("LC_ALL", "C");
        for var in ["PGDATA", "PGPORT", "PGHOST", "PGOPTIONS", "PGPASSWORD"] {
            cmd.env_remove(var);
        }
        cmd.output()
            .map_err(|e| annotate(e, &format!("cannot run {}", bin.display())))
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::warn!(
                "cannot stop PostgreSQL in {}: {e}; stop it with `pg_ctl stop -D {}`",
                self.root.display(),
                self.data_dir.display()
            );
        }
    }
}

enum Postmaster {
    None,
    Stale(u32),
    Running(u32),
}

/// Which signal ended the wait of [`shutdown_signal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownSignal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM (`kill`, service managers).
    Terminate,
    /// SIGHUP (the terminal closed).
    Hangup,
}

impl std::fmt::Display for ShutdownSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ShutdownSignal::Interrupt => "SIGINT",
            ShutdownSignal::Terminate => "SIGTERM",
            ShutdownSignal::Hangup => "SIGHUP",
        })
    }
}

/// Resolves on the first SIGINT (Ctrl-C), SIGTERM or SIGHUP.
///
/// Race it against the work (`tokio::select!`) so that a stop request drops the work, and
/// with it the [`PrivatePostgres`], which stops the server. The handlers are installed when
/// the future is first polled; from then on these signals no longer end the process by
/// themselves. Fails only if a handler cannot be installed.
pub async fn shutdown_signal() -> io::Result<ShutdownSignal> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    Ok(tokio::select! {
        _ = interrupt.recv() => ShutdownSignal::Interrupt,
        _ = terminate.recv() => ShutdownSignal::Terminate,
        _ = hangup.recv() => ShutdownSignal::Hangup,
    })
}

/// The operating-system user PostgreSQL runs as when this process is root.
#[derive(Debug, Clone)]
struct ServiceUser {
    name: String,
    uid: u32,
    gid: u32,
    home: PathBuf,
}

impl ServiceUser {
    /// `Some(postgres)` when this process is root (initdb refuses root), else `None`.
    fn if_root() -> io::Result<Option<ServiceUser>> {
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
        let user = passwd_entry(SERVICE_USER).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "running as root, and initdb refuses root; the `{SERVICE_USER}` user does \
                     not exist. Create it (`useradd --system --create-home {SERVICE_USER}`, \
                     installed with the postgresql package) or run as a normal user."
                ),
            )
        })?;
        if !Path::new("/usr/sbin/runuser").exists() && which("runuser").is_none() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "running as root, PostgreSQL must run as the `postgres` user through `runuser`, \
                 which is missing (package util-linux); install it or run as a normal user",
            ));
        }
        Ok(Some(user))
    }

    /// `runuser -u postgres --`, ready for the program and its arguments.
    fn command(&self) -> Command {
        let mut c = Command::new("runuser");
        c.arg("-u").arg(&self.name).arg("--");
        c
    }

    fn chown(&self, path: &Path) -> io::Result<()> {
        std::os::unix::fs::lchown(path, Some(self.uid), Some(self.gid))
    }

    fn can_enter(&self, dir: &Path) -> bool {
        self.command()
            .arg("test")
            .arg("-x")
            .arg(dir)
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Creates `dir` as this user with mode 0700 (no root-owned operation ever follows a
    /// link this user could plant), then checks what is there.
    fn private_dir(&self, dir: &Path) -> io::Result<()> {
        let _ = self
            .command()
            .args(["mkdir", "-m", "0700"])
            .arg(dir)
            .current_dir("/")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        let meta = fs::symlink_metadata(dir)?;
        if !meta.is_dir() || meta.uid() != self.uid || meta.permissions().mode() & 0o077 != 0 {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "{} must be a directory owned by `{}` with mode 0700",
                    dir.display(),
                    self.name
                ),
            ));
        }
        Ok(())
    }

    /// Where the cluster kept for `dir` lives when this process is root: `dir` itself when
    /// the service user can reach it, else a private directory in the service user's home.
    fn cluster_root(&self, dir: &Path) -> io::Result<PathBuf> {
        if let Some(parent) = dir.parent()
            && self.can_enter(parent)
        {
            self.chown(dir)?;
            return Ok(dir.to_path_buf());
        }
        let key = cluster_key(dir)?;
        let base = self.home.join("thread-flow");
        let home_is_theirs = fs::symlink_metadata(&self.home)
            .is_ok_and(|meta| meta.is_dir() && meta.uid() == self.uid);
        if !home_is_theirs {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "running as root, the `{}` user cannot enter {}, and its home {} is not a \
                     directory it owns; pass a state directory that user can reach, or run as \
                     a normal user",
                    self.name,
                    dir.display(),
                    self.home.display()
                ),
            ));
        }
        self.private_dir(&base)?;
        let root = base.join(format!("{key}-{:016x}", fnv1a(dir)));
        self.private_dir(&root)?;
        // `origin` lets a later run tell whether this state directory still exists.
        let origin = root.join("origin");
        let _ = fs::remove_file(&origin);
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&origin)?
            .write_all(dir.as_os_str().as_encoded_bytes())?;
        let location = dir.join("cluster-location");
        let _ = fs::remove_file(&location);
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&location)?;
        writeln!(
            file,
            "{}\n(the PostgreSQL cluster of this state: the `{}` user cannot enter {})",
            root.display(),
            self.name,
            dir.display()
        )?;
        Ok(root)
    }
}

impl ServiceUser {
    /// Deletes the clusters in `base` (`~postgres/thread-flow`) whose state directory is gone
    /// (its `cluster-key` is missing or names another cluster) and that no run holds, stopping
    /// a server one of them left running. Never touches `keep` or a directory without an
    /// `origin` file (one this module did not make, or one still being made).
    fn remove_abandoned_clusters(&self, bin_dir: &Path, base: &Path, keep: &Path) {
        let Ok(entries) = fs::read_dir(base) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path == keep || !fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                continue;
            }
            let Ok(origin) = fs::read(path.join("origin")) else {
                continue;
            };
            let origin = PathBuf::from(<OsString as std::os::unix::ffi::OsStringExt>::from_vec(
                origin,
            ));
            let name = entry.file_name().to_string_lossy().into_owned();
            let key = name.split('-').next().unwrap_or("");
            let state_key = fs::read_to_string(origin.join("cluster-key")).unwrap_or_default();
            if state_key.trim() == key {
                continue;
            }
            let Ok(lock) = lock_cluster(&path) else {
                continue;
            };
            let pg = PrivatePostgres::new(
                bin_dir.to_path_buf(),
                path.clone(),
                Some(self.clone()),
                true,
            );
            if let Ok(Postmaster::Running(_)) = pg.postmaster() {
                let _ = pg.pg_ctl_stop("immediate");
            }
            drop(pg);
            match fs::remove_dir_all(&path) {
                Ok(()) => tracing::info!(
                    "removed the PostgreSQL cluster {} of the deleted state directory {}",
                    path.display(),
                    origin.display()
                ),
                Err(e) => tracing::warn!(
                    "cannot remove the abandoned cluster {}: {e}",
                    path.display()
                ),
            }
            drop(lock);
        }
    }
}

/// The random id of the state in `dir` (`dir/cluster-key`, created on first use).
fn cluster_key(dir: &Path) -> io::Result<String> {
    let path = dir.join("cluster-key");
    if let Ok(meta) = fs::symlink_metadata(&path)
        && meta.is_file()
    {
        let key = fs::read_to_string(&path)?.trim().to_owned();
        if key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(key);
        }
        fs::remove_file(&path)?;
    }
    let key = random_hex(16)?;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    writeln!(file, "{key}")?;
    Ok(key)
}

/// Takes the cluster's lock (`<root>/lock`) or says who to wait for.
/// The file [`PrivatePostgres::start_or_reuse`] writes into a state directory it claimed.
/// Without it, an existing non-empty directory is never stopped, re-initialised or deleted.
pub const STATE_MARKER: &str = ".thread-flow-postgres";

/// Makes sure `dir` is a state directory this library may use for a kept cluster, before
/// anything in it is stopped, changed or deleted: missing (created, marked), or a real
/// directory (not a symbolic link) owned by this user (or, as root, by the `postgres` user)
/// that carries [`STATE_MARKER`], is empty, or has the layout of an older thread-flow
/// (`.thread-flow/postgres`). Anything else (someone's own PostgreSQL cluster, a folder
/// planted in a shared place) is refused and left untouched.
fn claim_state_dir(dir: &Path, service_uid: Option<u32>) -> io::Result<()> {
    let refuse = |why: &str| {
        io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "refusing to keep PostgreSQL state in {}: {why}. thread-flow only stops, \
                 re-initialises or deletes a cluster in a directory it created (marked by \
                 {STATE_MARKER}); choose another directory, or remove this one if it is yours \
                 to remove",
                dir.display()
            ),
        )
    };
    let meta = match fs::symlink_metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            crate::local_state::create_private_dir(dir)
                .map_err(|e| annotate(e, &format!("cannot create {}", dir.display())))?;
            return crate::local_state::create_private_file(&dir.join(STATE_MARKER));
        }
        Err(e) => return Err(annotate(e, &format!("cannot inspect {}", dir.display()))),
    };
    if meta.file_type().is_symlink() {
        return Err(refuse("it is a symbolic link"));
    }
    if !meta.is_dir() {
        return Err(refuse("it is not a directory"));
    }
    // This process's user: the owner of /proc/self (Linux); elsewhere the check is skipped.
    let me = fs::metadata("/proc/self").map(|m| m.uid()).ok();
    if let Some(me) = me
        && meta.uid() != me
        && Some(meta.uid()) != service_uid
    {
        return Err(refuse(&format!(
            "it belongs to another user (uid {})",
            meta.uid()
        )));
    }
    if dir.join(STATE_MARKER).is_file() {
        return Ok(());
    }
    let empty = fs::read_dir(dir)?.next().is_none();
    let legacy = dir.file_name() == Some(std::ffi::OsStr::new("postgres"))
        && dir.parent().and_then(Path::file_name) == Some(std::ffi::OsStr::new(".thread-flow"));
    if empty || legacy {
        return crate::local_state::create_private_file(&dir.join(STATE_MARKER));
    }
    Err(refuse(
        "it exists, is not empty and was not created by thread-flow",
    ))
}

fn lock_cluster(root: &Path) -> io::Result<File> {
    let path = root.join("lock");
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::other(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(io::Error::new(
            io::ErrorKind::ResourceBusy,
            format!(
                "another run is using the PostgreSQL cluster in {} (it holds {}); wait for it \
                 to finish or stop it, then run again",
                root.display(),
                path.display()
            ),
        )),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(annotate(e, &format!("cannot lock {}", path.display())))
        }
    }
}

/// A new directory with an unpredictable name (`thread-flow-pg-XXXXXX`) and mode 0700 in the
/// system temp directory.
fn private_tempdir() -> io::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("thread-flow-pg-")
        .permissions(fs::Permissions::from_mode(0o700))
        .tempdir()
}

fn write_password(path: &Path, owner: Option<&ServiceUser>) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let password = random_hex(32)?;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    if let Some(user) = owner {
        std::os::unix::fs::fchown(&file, Some(user.uid), Some(user.gid))?;
    }
    writeln!(file, "{password}")?;
    file.sync_all()
}

fn read_password(path: &Path) -> io::Result<String> {
    let meta = fs::symlink_metadata(path)?;
    if !meta.is_file() {
        return Err(io::Error::other(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    let text = fs::read_to_string(path)?;
    let password = text.lines().next().unwrap_or("").trim().to_owned();
    if password.is_empty() {
        return Err(io::Error::other(format!("{} is empty", path.display())));
    }
    Ok(password)
}

fn random_hex(bytes: usize) -> io::Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)
        .map_err(|e| io::Error::other(format!("no random bytes from the OS: {e}")))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// The socket `<dir>/.s.PGSQL.5432` fits `sun_path`, and `dir` quotes safely for `pg_ctl`'s
/// shell and PostgreSQL's directory list.
fn socket_dir_fits(dir: &Path) -> bool {
    let Some(text) = dir.to_str() else {
        return false;
    };
    text.len() + format!("/.s.PGSQL.{PORT}").len() <= MAX_SOCKET_PATH
        && !text
            .chars()
            .any(|c| matches!(c, ',' | '"' | '\'' | '\\') || c.is_control())
}

/// Percent-encodes everything but unreserved characters and `/` (for a URL query value).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn log_tail(path: &Path, lines: usize) -> String {
    let log = fs::read_to_string(path).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(lines).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
}

fn annotate(e: io::Error, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
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

/// Finds the directory holding `initdb`, `pg_ctl` and `postgres`: `$PG_BIN_DIR`, then
/// `PATH`, then the usual install locations (newest version first).
///
/// The error says how to install the PostgreSQL server.
pub fn find_bin_dir() -> io::Result<PathBuf> {
    let has_all = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|p| dir.join(p).is_file())
    };
    if let Some(dir) = std::env::var_os(PG_BIN_DIR_ENV) {
        let dir = PathBuf::from(dir);
        if has_all(&dir) {
            return Ok(dir);
        }
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "{PG_BIN_DIR_ENV}={} does not contain initdb, pg_ctl and postgres",
                dir.display()
            ),
        ));
    }
    if let Some(initdb) = which("initdb") {
        // Follow symlinks (/usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb) so
        // pg_ctl finds `postgres` next to itself.
        let real = fs::canonicalize(&initdb).unwrap_or(initdb);
        if let Some(dir) = real.parent()
            && has_all(dir)
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
    candidates.sort_by_key(|p| std::cmp::Reverse(version_of(p)));
    if let Some(dir) = candidates.into_iter().find(|d| has_all(d)) {
        return Ok(dir);
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in $PG_BIN_DIR, PATH \
         or /usr/lib/postgresql/*/bin. ReCoco keeps its incremental state in PostgreSQL; \
         install the server: `sudo apt-get install postgresql` (Debian/Ubuntu), `sudo dnf \
         install postgresql-server` (Fedora), `brew install postgresql@16` (macOS), or set \
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

/// The `/etc/passwd` entry of `user`.
fn passwd_entry(user: &str) -> Option<ServiceUser> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() < 6 || fields[0] != user {
            return None;
        }
        Some(ServiceUser {
            name: user.to_owned(),
            uid: fields[2].parse().ok()?,
            gid: fields[3].parse().ok()?,
            home: PathBuf::from(fields[5]),
        })
    })
}

/// FNV-1a: stable across runs and Rust versions (unlike `DefaultHasher`).
fn fnv1a(path: &Path) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in path.as_os_str().as_encoded_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_newest_first() {
        assert_eq!(version_of(Path::new("/usr/lib/postgresql/15/bin")), 15);
        assert_eq!(version_of(Path::new("/usr/pgsql-16/bin")), 16);
    }

    #[test]
    fn socket_paths_that_do_not_fit_are_refused() {
        assert!(socket_dir_fits(Path::new(
            "/home/me/project/.thread-flow/postgres/run"
        )));
        assert!(!socket_dir_fits(&Path::new("/").join("x".repeat(100))));
        assert!(!socket_dir_fits(Path::new("/tmp/a,b")));
        assert!(!socket_dir_fits(Path::new("/tmp/it's")));
    }

    #[test]
    fn socket_dir_is_percent_encoded_in_the_url() {
        assert_eq!(percent_encode("/tmp/a b+c"), "/tmp/a%20b%2Bc");
    }

    #[test]
    fn random_passwords_differ() -> io::Result<()> {
        let (a, b) = (random_hex(32)?, random_hex(32)?);
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        Ok(())
    }
}
