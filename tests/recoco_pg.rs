//! The throwaway PostgreSQL harness: starts on a free local port, stops on drop, and
//! `start_or_reuse` keeps the cluster for the next run.

use std::net::TcpStream;
use std::time::Duration;

use thread_flow_suite::pg::TempPostgres;

fn accepts(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500)).is_ok()
}

#[test]
fn temp_cluster_listens_then_disappears() -> std::io::Result<()> {
    let pg = TempPostgres::start()?;
    let (port, root) = (pg.port(), pg.root_dir().to_path_buf());
    assert!(
        pg.url()
            .starts_with(&format!("postgres://postgres@127.0.0.1:{port}/"))
    );
    assert!(accepts(port));
    assert!(root.join("data/PG_VERSION").exists());
    drop(pg);
    assert!(!accepts(port), "server still up after drop");
    assert!(!root.exists(), "temporary cluster left behind");
    Ok(())
}

#[test]
fn reused_cluster_keeps_its_data_directory() -> std::io::Result<()> {
    let dir = tempfile::tempdir()?;
    let state = dir.path().join("pg");
    let first = TempPostgres::start_or_reuse(&state)?;
    let root = first.root_dir().to_path_buf();
    let marker = std::fs::metadata(root.join("data/PG_VERSION"))?.modified()?;
    assert!(accepts(first.port()));
    drop(first);

    let second = TempPostgres::start_or_reuse(&state)?;
    assert_eq!(second.root_dir(), root);
    assert!(accepts(second.port()));
    // Not initialised again.
    assert_eq!(
        std::fs::metadata(root.join("data/PG_VERSION"))?.modified()?,
        marker
    );
    let port = second.port();
    drop(second);
    assert!(!accepts(port));
    assert!(root.join("data/PG_VERSION").exists());
    Ok(())
}
