//! Compile-time behaviour of the derives: `ui/` must fail to compile, `ui-pass/` must compile.
//!
//! The `.stderr` files are rustc's own output, which changes between compiler versions, so they
//! are written by the project's toolchain (rustc 1.95, the `rust-version`) with the features the
//! README's test command builds with (`--all-features`: rustc lists some implementors of a
//! trait, and features add implementors such as `code::Language`). On rustc 1.95 every file
//! must match exactly. On any other compiler each case must still fail, with the same errors:
//! the derive's own messages (`error: ...`) word for word and rustc's by their code
//! (`error[E0277]`), in the same number; only rustc's rendering around them may differ.
//! Regenerate after an intended change with
//! `TRYBUILD=overwrite cargo test -p thread-flow --all-features --test ui` on rustc 1.95 and
//! review every changed file.

use std::path::{Path, PathBuf};
use std::process::Command;

const PINNED: &str = "1.95";

#[test]
fn ui() {
    let version = Command::new("rustc")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|e| panic!("cannot run `rustc --version`: {e}"));
    if version.starts_with(&format!("rustc {PINNED}.")) {
        let t = trybuild::TestCases::new();
        t.compile_fail("tests/ui/*.rs");
        t.pass("tests/ui-pass/*.rs");
        return;
    }
    eprintln!(
        "note: this is `{version}`, not rustc {PINNED}, which wrote tests/ui/*.stderr: \
         comparing each case's errors (the derive's messages and rustc's error codes), \
         not rustc's exact rendering"
    );
    any_compiler();
}

/// Each case compiled by this compiler in a scratch copy (trybuild writes what it printed
/// there), then its errors compared with the pinned file's.
fn any_compiler() {
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-any-rustc");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).expect("creating the scratch folder");
    let cases = cases();
    assert!(!cases.is_empty(), "no tests/ui/*.rs cases found");
    for case in &cases {
        std::fs::copy(case, scratch.join(case.file_name().unwrap())).expect("copying a case");
    }
    let status = Command::new(std::env::current_exe().expect("the test binary's path"))
        .args([
            "--ignored",
            "--exact",
            "compile_cases_into_scratch",
            "--nocapture",
        ])
        .env("TRYBUILD", "overwrite")
        .env("THREAD_FLOW_UI_SCRATCH", &scratch)
        .status()
        .expect("running the compile step");
    assert!(
        status.success(),
        "a tests/ui case compiled, or a tests/ui-pass case did not (see above)"
    );
    let mut problems = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap();
        let pinned = read(&case.with_extension("stderr"));
        let here = read(&scratch.join(name).with_extension("stderr"));
        let (want, got) = (errors(&pinned), errors(&here));
        if want != got {
            problems.push(format!(
                "{}:\n  rustc {PINNED}: {want:?}\n  this compiler: {got:?}",
                case.display()
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "errors differ from the pinned files:\n{}",
        problems.join("\n")
    );
}

/// Run by [`ui`] in a child process (with `TRYBUILD=overwrite`) on a compiler other than the
/// pinned one.
#[test]
#[ignore = "run by `ui` on a compiler other than rustc 1.95"]
fn compile_cases_into_scratch() {
    let scratch = std::env::var("THREAD_FLOW_UI_SCRATCH")
        .expect("run by the `ui` test, which sets THREAD_FLOW_UI_SCRATCH");
    let t = trybuild::TestCases::new();
    t.compile_fail(format!("{scratch}/*.rs"));
    t.pass("tests/ui-pass/*.rs");
}

fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir("tests/ui")
        .expect("reading tests/ui")
        .map(|e| e.expect("a tests/ui entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    cases.sort();
    cases
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The errors of one case, in order: a derive message whole, a rustc error by its code.
fn errors(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|line| {
            if let Some(code) = line.strip_prefix("error[") {
                Some(format!(
                    "error[{}",
                    code.split(']').next().unwrap_or_default()
                ))
            } else {
                line.starts_with("error: ").then(|| line.to_owned())
            }
        })
        .collect()
}
