//! The public API of the `thread-flow` crate, compared with the committed snapshot
//! `tests/public-api.txt`, so the surface cannot grow (or shrink) by accident.
//!
//! Regenerate after an intended change, then review the snapshot's diff like code:
//!
//! ```text
//! UPDATE_PUBLIC_API=1 cargo test -p thread-flow-suite --all-features --test public_api
//! ```
//!
//! How it works: rustdoc writes the crate's documentation model as JSON, and the
//! [`public-api`](https://crates.io/crates/public-api) library (the one behind
//! `cargo public-api`) lists every public item from it: modules, types, fields, variants,
//! functions and methods with their signatures, trait impls (blanket and auto-trait impls
//! left out), re-exports resolved the way users see them. Items marked `#[doc(hidden)]`
//! (the derive-only positional methods of `D1Target`, `__private`, and the `sql` module the
//! `testing` feature exposes) are not in it. The crate is documented with every feature but
//! `testing` (read from `thread-flow/Cargo.toml`), so each feature's items are listed.
//!
//! Rustdoc's JSON output is unstable: on the project's pinned stable toolchain it is enabled
//! with `RUSTC_BOOTSTRAP=1` for this one `cargo rustdoc` call, which runs in its own target
//! directory (`target/public-api`: the variable changes how some dependencies build, and
//! sharing `target/debug` would rebuild them on every switch). The first run builds the
//! dependencies' metadata there once (a few minutes); later runs only document `thread-flow`.
//! The JSON format version is tied to the toolchain: rustc 1.95 writes format 57, which
//! `public-api` 0.52.1 (rustdoc-types 0.57) reads. When the toolchain moves, the test says so
//! and the `public-api` / `rustdoc-types` dev-dependencies move with it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const SNAPSHOT: &str = "tests/public-api.txt";
const UPDATE_VAR: &str = "UPDATE_PUBLIC_API";

#[test]
fn public_api_matches_the_snapshot() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let json = rustdoc_json(root);
    let api = public_api::Builder::from_rustdoc_json(&json)
        .omit_blanket_impls(true)
        .omit_auto_trait_impls(true)
        .build()
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", json.display()));
    // public-api's own order: each item after its parent (an impl's methods after the impl).
    let current: String = api.items().map(|item| format!("{item}\n")).collect();

    let snapshot_path = root.join(SNAPSHOT);
    if std::env::var_os(UPDATE_VAR).is_some() {
        std::fs::write(&snapshot_path, &current)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", snapshot_path.display()));
        return;
    }
    let snapshot = std::fs::read_to_string(&snapshot_path).unwrap_or_default();
    if snapshot != current {
        panic!(
            "\n\nThe public API of thread-flow differs from {SNAPSHOT} \
             (+ new in the code, - only in the snapshot):\n\n{}\n\
             If the change is intended, regenerate the snapshot and review its diff:\n  \
             {UPDATE_VAR}=1 cargo test -p thread-flow-suite --all-features --test public_api\n\
             Otherwise make the new items pub(crate), or hide test-only ones behind the \
             `testing` feature.\n",
            diff(&snapshot, &current)
        );
    }
}

/// Documents `thread-flow` as rustdoc JSON and returns the file's path.
fn rustdoc_json(root: &Path) -> PathBuf {
    let target_dir = target_dir().join("public-api");
    let features = features(&root.join("thread-flow/Cargo.toml"));
    let output = Command::new(env!("CARGO"))
        .current_dir(root)
        .env("RUSTC_BOOTSTRAP", "1")
        .args(["rustdoc", "--package", "thread-flow", "--lib", "--features"])
        .arg(features.join(","))
        .arg("--target-dir")
        .arg(&target_dir)
        .args(["--", "-Z", "unstable-options", "--output-format", "json"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo rustdoc: {e}"));
    assert!(
        output.status.success(),
        "cargo rustdoc (JSON output) failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json = target_dir.join("doc/thread_flow.json");
    let text = std::fs::read_to_string(&json)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", json.display()));
    let format: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", json.display()));
    let found = format
        .get("format_version")
        .and_then(serde_json::Value::as_u64);
    assert_eq!(
        found,
        Some(u64::from(rustdoc_types::FORMAT_VERSION)),
        "\n\nThis toolchain's rustdoc writes JSON format {found:?}; the `public-api` \
         dev-dependency reads format {}. After a toolchain change, move `public-api` and \
         `rustdoc-types` (root Cargo.toml) to the releases that read the new format, then \
         regenerate the snapshot.\n",
        rustdoc_types::FORMAT_VERSION
    );
    json
}

/// Every feature of thread-flow but `default` and `testing` (not part of the stable API).
fn features(manifest: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(manifest)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", manifest.display()));
    let manifest: toml::Table = text
        .parse()
        .unwrap_or_else(|e| panic!("{} is not TOML: {e}", manifest.display()));
    let features = manifest
        .get("features")
        .and_then(toml::Value::as_table)
        .map(|t| t.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default();
    features
        .into_iter()
        .filter(|f| f != "default" && f != "testing")
        .collect()
}

/// The Cargo target directory this test was built in (`.../target/debug/deps/<test>`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("no test executable: {e}"));
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| panic!("unexpected test executable path {}", exe.display()))
}

/// The lines only in `new` (`+`) and only in `old` (`-`), each in sorted order.
fn diff(old: &str, new: &str) -> String {
    let mut count: BTreeMap<&str, i64> = BTreeMap::new();
    for line in new.lines() {
        *count.entry(line).or_default() += 1;
    }
    for line in old.lines() {
        *count.entry(line).or_default() -= 1;
    }
    let mut out = String::new();
    for (line, n) in count {
        let sign = if n > 0 { '+' } else { '-' };
        for _ in 0..n.unsigned_abs() {
            out.push(sign);
            out.push(' ');
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}
