//! Compile-time behaviour of the derives: `ui/` must fail with the exact `.stderr`, `ui-pass/`
//! must compile.
//!
//! The `.stderr` files are rustc's own output and change between compiler versions, so they
//! are pinned to the toolchain of this project (rustc 1.95) and to the features the README's
//! test command builds with (`--all-features`: rustc lists some implementors of a trait, and
//! features add implementors such as `code::Language`). Regenerate after an intended change
//! with `TRYBUILD=overwrite cargo test -p thread-flow --all-features --test ui` and review
//! every changed file.

use std::process::Command;

const PINNED: &str = "1.95";

#[test]
fn ui() {
    let version = Command::new("rustc")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_else(|e| panic!("cannot run `rustc --version`: {e}"));
    assert!(
        version.contains(&format!("rustc {PINNED}.")),
        "\n\nThe compile-error tests compare rustc's exact messages with tests/ui/*.stderr, \
         which were written by rustc {PINNED}; this is `{}`.\nRun the tests with rustc \
         {PINNED} (`rustup run {PINNED} cargo test`), or, when moving the project to a new \
         compiler, regenerate the files with TRYBUILD=overwrite and review each diff.\n",
        version.trim()
    );
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui-pass/*.rs");
}
