//! The private PostgreSQL cluster of ReCoco's state (`thread_flow::postgres`): nobody else
//! gets in, its files are owner-only, runs on one kept cluster do not race or stop each other,
//! what a killed run leaves behind is recovered, and a stop signal stops the server.
//!
//! We run as root here: the library then runs PostgreSQL as the `postgres` user, and the
//! "another user" checks run `psql` as `nobody` through `runuser`.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use thread_flow::postgres::{PORT, PrivatePostgres, find_bin_dir, shutdown_signal};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0)
}

/// A temp directory the `postgres` user can enter (mode 0755), so a kept cluster stays in it.
fn reachable_tempdir() -> std::io::Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
    Ok(dir)
}

/// A fresh state directory `state` in a [`reachable_tempdir`] (kept alive by the first half).
fn state_dir() -> std::io::Result<(tempfile::TempDir, PathBuf)> {
    let tmp = reachable_tempdir()?;
    let state = tmp.path().join("state");
    Ok((tmp, state))
}

/// Runs `psql` on the cluster with its password; the trimmed output, or the error.
fn sql(pg: &PrivatePostgres, query: &str) -> Result<String, String> {
    let out = pg
        .psql()
        .arg("-tAc")
        .arg(query)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// `SELECT 1` through `psql` on the cluster's socket, without the password.
fn psql_without_password(pg: &PrivatePostgres) -> std::io::Result<Output> {
    pg.psql()
        .env_remove("PGPASSWORD")
        .args(["-c", "SELECT 1"])
        .output()
}

/// `psql` as the OS user `nobody` with the given connection arguments.
fn psql_as_nobody(connection: &[&str], query: &str) -> std::io::Result<Output> {
    let psql = find_bin_dir()?.join("psql");
    Command::new("runuser")
        .args(["-u", "nobody", "--"])
        .arg(psql)
        .args(["-X", "-w", "-U", "postgres", "-d", "postgres"])
        .args(connection)
        .arg("-c")
        .arg(query)
        .env_remove("PGPASSWORD")
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
}

/// PIDs of the processes working in `data_dir` (a PostgreSQL server and its children).
fn processes_in(data_dir: &Path) -> Vec<u32> {
    let Ok(data_dir) = std::fs::canonicalize(data_dir) else {
        return Vec::new();
    };
    let mut pids = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            if std::fs::read_link(e.path().join("cwd")).is_ok_and(|cwd| cwd == data_dir) {
                pids.push(pid);
            }
        }
    }
    pids
}

fn postmaster_pid(data_dir: &Path) -> Option<u32> {
    std::fs::read_to_string(data_dir.join("postmaster.pid"))
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

#[test]
fn another_local_user_can_neither_connect_nor_run_programs() -> TestResult {
    if !is_root() {
        eprintln!("not root: cannot act as another user here; skipped");
        return Ok(());
    }
    let pg = PrivatePostgres::temporary()?;
    let drop_box = tempfile::tempdir()?;
    std::fs::set_permissions(drop_box.path(), std::fs::Permissions::from_mode(0o1777))?;
    let marker = drop_box.path().join("pwned");
    let attack = format!(
        "COPY (SELECT 1) TO PROGRAM 'id > {}'",
        marker.to_string_lossy()
    );
    let socket_dir = pg.socket_dir().to_string_lossy().into_owned();
    let port = PORT.to_string();

    let by_socket = psql_as_nobody(&["-h", &socket_dir, "-p", &port], &attack)?;
    let socket_error = String::from_utf8_lossy(&by_socket.stderr);
    assert!(!by_socket.status.success(), "nobody got in over the socket");
    assert!(
        socket_error.contains("Permission denied"),
        "unexpected refusal: {socket_error}"
    );
    let by_tcp = psql_as_nobody(&["-h", "127.0.0.1", "-p", &port], &attack)?;
    let tcp_error = String::from_utf8_lossy(&by_tcp.stderr);
    assert!(!by_tcp.status.success(), "nobody got in over TCP");
    assert!(
        tcp_error.contains("Connection refused"),
        "unexpected refusal: {tcp_error}"
    );
    assert!(
        !marker.exists(),
        "nobody ran a program as the cluster owner"
    );
    // The server is up all along.
    assert_eq!(sql(&pg, "SELECT 1").as_deref(), Ok("1"));
    Ok(())
}

#[test]
fn connections_need_the_password_and_no_tcp_listener_exists() -> TestResult {
    let pg = PrivatePostgres::temporary()?;
    assert_eq!(sql(&pg, "SHOW listen_addresses").as_deref(), Ok(""));
    assert_eq!(
        sql(
            &pg,
            "SELECT count(*) FROM pg_hba_file_rules WHERE auth_method <> 'scram-sha-256'"
        )
        .as_deref(),
        Ok("0")
    );
    assert_eq!(
        sql(&pg, "SHOW unix_socket_permissions").as_deref(),
        Ok("0700")
    );

    // Even where the socket is reachable (this process), no password means no entry.
    let no_password = psql_without_password(&pg)?;
    assert!(!no_password.status.success());
    assert!(String::from_utf8_lossy(&no_password.stderr).contains("no password supplied"));
    let wrong = pg
        .psql()
        .env("PGPASSWORD", "guess")
        .args(["-c", "SELECT 1"])
        .output()?;
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("password authentication failed"));

    // What ReCoco gets: the socket URL without the password; Debug of ours never shows it.
    let spec = pg.database_spec();
    let password = spec.password.clone().unwrap_or_default();
    assert_eq!(password.len(), 64);
    assert!(
        spec.url
            .starts_with("postgres://postgres@localhost:5432/postgres?host=/")
    );
    assert!(!spec.url.contains(&password));
    assert!(!format!("{pg:?}").contains(&password));
    Ok(())
}

#[tokio::test]
async fn recoco_connects_through_the_database_spec() -> TestResult {
    let pg = PrivatePostgres::temporary()?;
    let pool = recoco_core::lib_context::DbPools::default()
        .get_pool(&pg.database_spec())
        .await?;
    drop(pool);
    Ok(())
}

#[test]
fn cluster_files_are_owner_only() -> TestResult {
    let tmp = reachable_tempdir()?;
    let pg = PrivatePostgres::start_or_reuse(tmp.path().join("state"))?;
    let root = pg.root_dir().to_path_buf();
    assert_eq!(mode(&root), 0o700, "cluster directory");
    assert_eq!(mode(&pg.password_path()), 0o600, "password file");
    assert_eq!(mode(&root.join("data")), 0o700, "data directory");
    assert_eq!(mode(&root.join("lock")), 0o600, "lock file");
    assert_eq!(mode(pg.socket_dir()), 0o700, "socket directory");
    assert!(pg.socket_dir().starts_with(&root));
    if is_root() {
        let postgres_uid = std::fs::metadata(root.join("data"))?.uid();
        assert_ne!(postgres_uid, 0, "the server runs as the postgres user");
        assert_eq!(std::fs::metadata(&root)?.uid(), postgres_uid);
        assert_eq!(std::fs::metadata(pg.socket_dir())?.uid(), postgres_uid);
    }
    Ok(())
}

#[test]
fn temporary_cluster_is_private_unpredictable_and_removed() -> TestResult {
    let pg = PrivatePostgres::temporary()?;
    let root = pg.root_dir().to_path_buf();
    let data = root.join("data");
    let temp = std::fs::canonicalize(std::env::temp_dir())?;
    assert!(root.starts_with(&temp));
    let name = root.file_name().map(|n| n.to_string_lossy().into_owned());
    assert!(name.is_some_and(|n| n.starts_with("thread-flow-pg-") && n.len() > 20));
    assert_eq!(mode(&root), 0o700);
    assert!(!processes_in(&data).is_empty(), "server running");
    drop(pg);
    assert!(!root.exists(), "temporary cluster left behind");
    assert!(processes_in(&data).is_empty(), "server still running");
    Ok(())
}

#[test]
fn kept_cluster_keeps_its_data_across_runs() -> TestResult {
    let (_tmp, state) = state_dir()?;
    let mut root = None;
    for run in 1..=3 {
        let pg = PrivatePostgres::start_or_reuse(&state)?;
        if let Some(root) = &root {
            assert_eq!(pg.root_dir(), root, "same cluster every run");
        }
        root = Some(pg.root_dir().to_path_buf());
        sql(&pg, "CREATE TABLE IF NOT EXISTS runs (n int)")?;
        sql(&pg, &format!("INSERT INTO runs VALUES ({run})"))?;
        assert_eq!(sql(&pg, "SELECT count(*) FROM runs")?, run.to_string());
        let data = pg.root_dir().join("data");
        drop(pg);
        assert!(processes_in(&data).is_empty(), "server still running");
    }
    Ok(())
}

#[test]
fn a_second_run_fails_clearly_and_leaves_the_first_running() -> TestResult {
    let (_tmp, state) = state_dir()?;
    let first = PrivatePostgres::start_or_reuse(&state)?;
    let pid = postmaster_pid(&first.root_dir().join("data"));
    let err = match PrivatePostgres::start_or_reuse(&state) {
        Ok(_) => return Err("a second run got the cluster while the first used it".into()),
        Err(e) => e,
    };
    assert_eq!(err.kind(), std::io::ErrorKind::ResourceBusy);
    assert!(
        err.to_string()
            .contains("another run is using the PostgreSQL cluster")
    );
    // The first run's server is untouched and still answers.
    assert_eq!(postmaster_pid(&first.root_dir().join("data")), pid);
    assert_eq!(sql(&first, "SELECT 1").as_deref(), Ok("1"));
    drop(first);
    let third = PrivatePostgres::start_or_reuse(&state)?;
    assert_eq!(sql(&third, "SELECT 1").as_deref(), Ok("1"));
    Ok(())
}

/// Writes a `postmaster.pid` naming `pid` into a stopped kept cluster.
fn plant_pid_file(state: &Path, pid: u32) -> std::io::Result<PathBuf> {
    let pg = PrivatePostgres::start_or_reuse(state)?;
    let data = pg.root_dir().join("data");
    drop(pg);
    let text = format!(
        "{pid}\n{}\n1700000000\n{PORT}\n/nonexistent\n\n  5432001 0\nready   \n",
        data.display()
    );
    std::fs::write(data.join("postmaster.pid"), text)?;
    Ok(data)
}

#[test]
fn stale_pid_file_of_a_dead_process_is_recovered() -> TestResult {
    let (_tmp, state) = state_dir()?;
    let mut child = Command::new("true").spawn()?;
    let dead = child.id();
    child.wait()?;
    let data = plant_pid_file(&state, dead)?;
    let pg = PrivatePostgres::start_or_reuse(&state)?;
    assert_eq!(sql(&pg, "SELECT 1").as_deref(), Ok("1"));
    assert_ne!(postmaster_pid(&data), Some(dead));
    Ok(())
}

#[test]
fn stale_pid_file_of_a_live_other_process_is_recovered() -> TestResult {
    let (_tmp, state) = state_dir()?;
    let mut sleeper = Command::new("sleep").arg("600").spawn()?;
    let data = plant_pid_file(&state, sleeper.id())?;
    let result = PrivatePostgres::start_or_reuse(&state);
    let alive = sleeper.try_wait()?.is_none();
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    let pg = result?;
    assert!(alive, "the process named in the stale file was touched");
    assert_eq!(sql(&pg, "SELECT 1").as_deref(), Ok("1"));
    assert_ne!(postmaster_pid(&data), Some(sleeper.id()));
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Runs in another process: a program holding a kept cluster until a stop signal.

const CHILD_STATE: &str = "THREAD_FLOW_TEST_PG_STATE";
const CHILD_TEST: &str = "child_holding_a_cluster_until_a_signal";

/// Not a test by itself: the program the signal tests start (`--ignored --exact`).
#[test]
#[ignore = "started by the signal tests in a child process"]
fn child_holding_a_cluster_until_a_signal() -> TestResult {
    let Some(state) = std::env::var_os(CHILD_STATE) else {
        return Ok(());
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let signal = shutdown_signal();
        tokio::pin!(signal);
        // Install the handlers before saying we are ready.
        let pg = tokio::select! {
            biased;
            s = &mut signal => return Err(format!("signal {s:?} before start").into()),
            pg = async { PrivatePostgres::start_or_reuse(&state) } => pg?,
        };
        println!("READY {}", pg.root_dir().display());
        let s = signal.await?;
        println!("STOPPING on {s}");
        drop(pg);
        Ok(())
    })
}

/// Starts the child and waits until its server is up; its cluster root.
fn start_child(state: &Path) -> std::io::Result<(std::process::Child, PathBuf)> {
    let mut child = Command::new(std::env::current_exe()?)
        .args([CHILD_TEST, "--exact", "--ignored", "--nocapture"])
        .env(CHILD_STATE, state)
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or(std::io::ErrorKind::BrokenPipe)?;
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        if let Some(root) = line?.strip_prefix("READY ") {
            let root = PathBuf::from(root);
            // Keep draining the child's output so it never blocks on a full pipe.
            std::thread::spawn(move || lines.for_each(drop));
            return Ok((child, root));
        }
    }
    let status = child.wait()?;
    Err(std::io::Error::other(format!(
        "child ended before its server was ready: {status}"
    )))
}

fn send(signal: &str, pid: u32) -> std::io::Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "kill -{signal} {pid} failed"
        )))
    }
}

#[test]
fn sigterm_sighup_and_ctrl_c_stop_the_server() -> TestResult {
    let tmp = reachable_tempdir()?;
    for signal in ["TERM", "HUP", "INT"] {
        let state = tmp.path().join(signal);
        let (mut child, root) = start_child(&state)?;
        let data = root.join("data");
        assert!(
            !processes_in(&data).is_empty(),
            "server up before SIG{signal}"
        );
        send(signal, child.id())?;
        let status = child.wait()?;
        assert!(status.success(), "child after SIG{signal}: {status}");
        assert!(
            processes_in(&data).is_empty(),
            "PostgreSQL still running after SIG{signal}"
        );
        assert!(!data.join("postmaster.pid").exists());
    }
    Ok(())
}

#[test]
fn server_left_by_a_killed_run_is_stopped_and_restarted() -> TestResult {
    let (_tmp, state) = state_dir()?;
    let (mut child, root) = start_child(&state)?;
    let data = root.join("data");
    let orphan = postmaster_pid(&data).ok_or("no postmaster.pid")?;
    send("KILL", child.id())?;
    child.wait()?;
    assert!(processes_in(&data).contains(&orphan), "orphan server is up");

    let pg = PrivatePostgres::start_or_reuse(&state)?;
    let fresh = postmaster_pid(&data).ok_or("no postmaster.pid")?;
    assert_ne!(fresh, orphan, "the orphan was adopted, not restarted");
    assert!(
        !processes_in(&data).contains(&orphan),
        "orphan still running"
    );
    assert_eq!(sql(&pg, "SHOW listen_addresses").as_deref(), Ok(""));
    drop(pg);
    assert!(processes_in(&data).is_empty());
    Ok(())
}

/// A PostgreSQL program as the cluster's OS user (`postgres` when root).
fn as_cluster_user(program: &str, dir: &Path) -> std::io::Result<Command> {
    let bin = find_bin_dir()?.join(program);
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    cmd.current_dir(dir).stdin(Stdio::null());
    Ok(cmd)
}

#[test]
fn cluster_of_an_older_version_with_trust_and_tcp_is_reinitialised() -> TestResult {
    // The old harness's layout: `.thread-flow/postgres` (ours by name, so it may be reused).
    let tmp = reachable_tempdir()?;
    let state = tmp.path().join(".thread-flow").join("postgres");
    std::fs::create_dir_all(&state)?;
    if is_root() {
        let ok = Command::new("chown")
            .arg("postgres:")
            .arg(&state)
            .status()?
            .success();
        assert!(ok, "chown");
    }
    // What the old harness made: trust authentication, TCP on 127.0.0.1, running.
    let out = as_cluster_user("initdb", &state)?
        .args(["-D", "data", "-U", "postgres", "-A", "trust", "--no-sync"])
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let out = as_cluster_user("pg_ctl", &state)?
        .args(["start", "-D", "data", "-l", "old.log", "-w", "-o"])
        .arg(format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
        ))
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let data = state.join("data");
    let old = postmaster_pid(&data).ok_or("old server not running")?;

    let pg = PrivatePostgres::start_or_reuse(&state)?;
    assert_eq!(pg.root_dir(), std::fs::canonicalize(&state)?);
    assert!(
        !processes_in(&data).contains(&old),
        "old server still running"
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "old TCP listener still up"
    );
    let hba = std::fs::read_to_string(data.join("pg_hba.conf"))?;
    assert!(
        !hba.lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .any(|l| l.contains("trust")),
        "trust left in pg_hba.conf"
    );
    assert_eq!(mode(&pg.password_path()), 0o600);
    let no_password = psql_without_password(&pg)?;
    assert!(!no_password.status.success());
    assert_eq!(sql(&pg, "SELECT 1").as_deref(), Ok("1"));
    Ok(())
}

#[test]
fn as_root_a_private_state_dir_puts_the_cluster_where_only_postgres_and_root_read() -> TestResult {
    if !is_root() {
        eprintln!("not root: the cluster stays in the state directory; skipped");
        return Ok(());
    }
    // `.thread-flow` is created 0700 and root's: the postgres user cannot enter it.
    let tmp = tempfile::tempdir()?;
    let state = tmp.path().join(".thread-flow").join("postgres");
    let (pg, cleanup) = start_relocated(&state)?;
    let root = cleanup.0.clone();
    assert!(!root.starts_with(tmp.path()));
    assert!(!root.starts_with(std::env::temp_dir()));
    let meta = std::fs::symlink_metadata(&root)?;
    assert_ne!(meta.uid(), 0);
    assert_eq!(mode(&root), 0o700);
    let parent = root.parent().ok_or("no parent")?;
    assert_eq!(mode(parent), 0o700);
    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(&state.join("cluster-key")), 0o600);
    assert!(
        std::fs::read_to_string(state.join("cluster-location"))?.contains(&*root.to_string_lossy())
    );
    assert_eq!(sql(&pg, "SELECT 1").as_deref(), Ok("1"));
    drop(pg);

    // The next run finds the same cluster.
    let again = PrivatePostgres::start_or_reuse(&state)?;
    assert_eq!(again.root_dir(), root);
    drop(again);
    drop(cleanup);
    assert!(!root.exists());
    Ok(())
}

#[test]
fn as_root_the_cluster_of_a_deleted_state_dir_is_removed_by_the_next_run() -> TestResult {
    if !is_root() {
        eprintln!("not root: clusters stay in their state directory; skipped");
        return Ok(());
    }
    let gone = tempfile::tempdir()?;
    let (first, _cleanup_abandoned) = start_relocated(&gone.path().join(".thread-flow/postgres"))?;
    let abandoned = first.root_dir().to_path_buf();
    assert!(!abandoned.starts_with(gone.path()), "relocated");
    drop(first);
    drop(gone);

    let kept = tempfile::tempdir()?;
    let busy_state = kept.path().join("busy/.thread-flow/postgres");
    let (busy, _cleanup_busy) = start_relocated(&busy_state)?;
    // A cluster in use is never collected, even when its state directory is gone.
    std::fs::remove_dir_all(&busy_state)?;

    let (next, _cleanup_next) = start_relocated(&kept.path().join("next/.thread-flow/postgres"))?;
    assert!(
        !abandoned.exists(),
        "cluster of the deleted state left behind"
    );
    assert!(
        busy.root_dir().join("data").exists(),
        "a cluster in use was removed"
    );
    assert_eq!(sql(&busy, "SELECT 1").as_deref(), Ok("1"));
    assert_eq!(sql(&next, "SELECT 1").as_deref(), Ok("1"));
    drop(next);
    drop(busy);
    Ok(())
}

/// Starts (or reuses) the kept cluster of `state` (as root: relocated out of it), with the
/// guard that removes the relocated cluster.
fn start_relocated(state: &Path) -> std::io::Result<(PrivatePostgres, RemoveOnDrop)> {
    let pg = PrivatePostgres::start_or_reuse(state)?;
    let cleanup = RemoveOnDrop(pg.root_dir().to_path_buf());
    Ok((pg, cleanup))
}

/// Removes a relocated cluster directory when dropped, stopping its server first (whatever
/// the drop order with the `PrivatePostgres`, even when a test panics).
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Ok(mut pg_ctl) = as_cluster_user("pg_ctl", &self.0) {
            let _ = pg_ctl
                .args(["stop", "-D", "data", "-m", "immediate", "-w"])
                .output();
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn long_state_path_puts_the_socket_in_a_private_temp_dir() -> TestResult {
    let tmp = reachable_tempdir()?;
    let state = tmp.path().join("a-rather-long-directory-name".repeat(4));
    let pg = PrivatePostgres::start_or_reuse(&state)?;
    let socket_dir = pg.socket_dir().to_path_buf();
    assert!(!socket_dir.starts_with(pg.root_dir()));
    let name = socket_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned());
    assert!(name.is_some_and(|n| n.starts_with("thread-flow-pg-") && n.len() > 20));
    assert_eq!(mode(&socket_dir), 0o700);
    assert_eq!(sql(&pg, "SELECT 1").as_deref(), Ok("1"));
    drop(pg);
    assert!(!socket_dir.exists(), "socket directory left behind");
    Ok(())
}

/// A directory thread-flow did not create (here: someone's own cluster, with a running-looking
/// `postmaster.pid`) is never stopped, re-initialised or deleted; a symbolic link is refused.
#[test]
fn a_directory_thread_flow_did_not_create_is_refused_and_left_alone() -> TestResult {
    let (tmp, state) = state_dir()?;
    let data = state.join("data");
    std::fs::create_dir_all(&data)?;
    std::fs::write(data.join("PG_VERSION"), "15\n")?;
    std::fs::write(data.join("postmaster.pid"), "1\n")?;
    std::fs::write(data.join("their-table"), "rows")?;
    let before = mode(&state);
    let err = PrivatePostgres::start_or_reuse(&state).expect_err("someone else's directory");
    assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied, "{err}");
    let message = err.to_string();
    assert!(message.contains(&state.display().to_string()), "{message}");
    assert!(message.contains("not created by thread-flow"), "{message}");
    for file in ["PG_VERSION", "postmaster.pid", "their-table"] {
        assert!(data.join(file).is_file(), "{file} was touched");
    }
    assert_eq!(mode(&state), before, "the directory's mode is unchanged");
    assert!(!state.join(thread_flow::postgres::STATE_MARKER).exists());

    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&state, &link)?;
    let err = PrivatePostgres::start_or_reuse(&link).expect_err("a symbolic link");
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert!(data.join("their-table").is_file());
    Ok(())
}
