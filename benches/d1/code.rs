//! Section `code`: the code index against tree-sitter itself, side by side in one run, on a
//! real tree of at least 10 MB and 1,000 files copied from this machine (see [`corpus`]).
//!
//! Measured, in this order, each in its own process so each has its own peak RSS:
//! - parse-only: every file parsed by tree-sitter with the same grammars on all cores, nothing
//!   else (this bench binary re-run with `--child-code parse DIR`; bench profile, optimised);
//! - extraction only: the index's extraction of symbols from every file on all cores, no
//!   ReCoco, no database (`--child-code extract DIR`);
//! - `ctags -R` on the same files (Universal Ctags, when installed);
//! - the full job, first run: `code-index DIR` built in the dev profile as the README runs it
//!   (`cargo run --example code-index -- DIR`; built before timing, so build time is not
//!   counted), from an empty state, start-up and shutdown included;
//! - the job again after a one-file edit (start-up included).
//!
//! Ratios: job / parse-only (target <= 2), re-run seconds (target <= 1.5). Peak RSS is the
//! measured process's own `VmHWM` (polled from `/proc` for programs that are not this bench;
//! the job's PostgreSQL server processes are not included).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde_json::{Value as Json, json};

use crate::common::{bench_dir, median, per_second, scratch};
use crate::memory::{RESULT_MARKER, run_child};
use crate::report::{Target, figure, heading, ratio};

/// Largest file taken into the corpus (the job skips files over 2 MiB; minified bundles and
/// generated tables are not what an index is for).
const MAX_FILE_BYTES: u64 = 256 * 1024;
/// Folder names the job never indexes; files under them are not taken.
const EXCLUDED_DIRS: [&str; 5] = [
    "target",
    "node_modules",
    ".git",
    ".thread-flow",
    "__pycache__",
];
/// Timed rounds of the in-process modes (parse-only, extraction); the median is reported.
const ROUNDS: usize = 3;

// -------------------------------------------------------------------------------------------
// The corpus

/// One source of real code on this machine and how many bytes of it to take.
struct Origin {
    /// Folder name inside the corpus.
    name: &'static str,
    /// Where the files come from.
    root: PathBuf,
    /// File extensions taken.
    extensions: &'static [&'static str],
    /// Top-level folders of `root` left out.
    skip_top: &'static [&'static str],
    /// Bytes taken at most.
    budget: u64,
}

/// What [`corpus`] copied.
pub(crate) struct Corpus {
    /// The copy's root.
    pub(crate) dir: PathBuf,
    /// Files, relative to `dir`, in selection order.
    pub(crate) files: Vec<String>,
    /// Total bytes.
    pub(crate) bytes: u64,
    /// Bytes and files per origin.
    pub(crate) origins: Vec<(String, u64, usize)>,
    /// BLAKE3 of the selection (paths and sizes), to tell whether two runs used the same tree.
    pub(crate) fingerprint: String,
}

fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from("/root/.cargo"))
}

/// The first unpacked registry folder (`$CARGO_HOME/registry/src/<index>/`), by name.
fn registry_src() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cargo_home().join("registry").join("src"))
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.into_iter().next()
}

/// The standard library folder of `python3` (asked from Python), else pyenv's 3.11.
fn python_stdlib() -> Option<PathBuf> {
    let asked = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['stdlib'])",
        ])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    asked.filter(|p| p.join("os.py").is_file()).or_else(|| {
        let p = PathBuf::from("/root/.pyenv/versions/3.11.7/lib/python3.11");
        p.is_dir().then_some(p)
    })
}

/// Regular files (no links) under `root` with one of `extensions`, sorted by path.
fn source_files(root: &Path, extensions: &[&str]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            e.path()
                .extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| extensions.contains(&x))
        })
        .map(|e| e.into_path())
        .collect();
    out.sort();
    out
}

/// Copies a deterministic selection of real code into a fresh folder
/// `target/bench/tmp/code-corpus`: Rust from the cargo registry (6 MB), Python's standard
/// library (5 MB), JavaScript/TypeScript from `tests/d1-server/node_modules` (3 MB; run
/// `npm ci` there first). Files are taken in path order until each budget is spent; empty
/// files, files over 256 KiB and files under folders the job never indexes are passed over
/// (nested `node_modules` folders are renamed `nm`). Nothing is written where files come from.
pub(crate) fn corpus() -> anyhow::Result<Corpus> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut origins = Vec::new();
    if let Some(root) = registry_src() {
        origins.push(Origin {
            name: "rust",
            root,
            extensions: &["rs"],
            skip_top: &[],
            budget: 6_000_000,
        });
    }
    if let Some(root) = python_stdlib() {
        origins.push(Origin {
            name: "python",
            root,
            extensions: &["py"],
            skip_top: &["site-packages"],
            budget: 5_000_000,
        });
    }
    let npm = workspace.join("tests/d1-server/node_modules");
    if npm.is_dir() {
        origins.push(Origin {
            name: "npm",
            root: npm,
            extensions: &["js", "mjs", "cjs", "ts", "tsx"],
            skip_top: &[],
            budget: 3_000_000,
        });
    }
    let dir = scratch("code-corpus")?;
    let mut files = Vec::new();
    let mut bytes = 0;
    let mut summary = Vec::new();
    let mut hasher = blake3::Hasher::new();
    for origin in &origins {
        let (mut used, mut count) = (0u64, 0usize);
        for path in source_files(&origin.root, origin.extensions) {
            let Ok(relative) = path.strip_prefix(&origin.root) else {
                continue;
            };
            let parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts
                .first()
                .is_some_and(|top| origin.skip_top.contains(&top.as_str()))
            {
                continue;
            }
            let parts: Vec<String> = parts
                .into_iter()
                .map(|p| if p == "node_modules" { "nm".into() } else { p })
                .collect();
            if parts.iter().any(|p| EXCLUDED_DIRS.contains(&p.as_str())) {
                continue;
            }
            let size = std::fs::symlink_metadata(&path).map_or(0, |m| m.len());
            if size == 0 || size > MAX_FILE_BYTES {
                continue;
            }
            if used + size > origin.budget {
                break;
            }
            let key = format!("{}/{}", origin.name, parts.join("/"));
            let target = dir.join(&key);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::copy(&path, &target).with_context(|| format!("copying {}", path.display()))?;
            hasher.update(key.as_bytes());
            hasher.update(&size.to_le_bytes());
            used += size;
            count += 1;
            files.push(key);
        }
        bytes += used;
        summary.push((origin.name.to_owned(), used, count));
    }
    ensure!(
        bytes >= 10_000_000 && files.len() >= 1_000,
        "the corpus has {} files and {bytes} bytes, needs >= 1,000 files and >= 10 MB: it is \
         taken from the cargo registry ({}), Python's standard library and \
         tests/d1-server/node_modules (run `npm ci --no-audit --no-fund` there)",
        files.len(),
        cargo_home().join("registry/src").display()
    );
    Ok(Corpus {
        dir,
        files,
        bytes,
        origins: summary,
        fingerprint: hasher.finalize().to_hex()[..16].to_owned(),
    })
}

// -------------------------------------------------------------------------------------------
// The in-process modes (child processes of this binary)

/// The files of `dir` the modes read: supported extensions, in path order, with contents.
fn load(dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for path in source_files(dir, &["rs", "py", "js", "mjs", "cjs", "ts", "tsx"]) {
        let relative = path
            .strip_prefix(dir)
            .map(|r| r.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        if relative.split('/').any(|p| EXCLUDED_DIRS.contains(&p)) {
            continue;
        }
        let bytes = std::fs::read(&path)?;
        out.push((relative, String::from_utf8_lossy(&bytes).into_owned()));
    }
    Ok(out)
}

/// Runs `work` on every file on all cores (a shared cursor over the list); returns the sum of
/// what `work` returns (so it cannot be optimised away).
fn on_all_cores<S>(
    files: &[(String, String)],
    state: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, &str, &str) -> u64 + Sync,
) -> u64 {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut s = state();
                    let mut total = 0u64;
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((path, content)) = files.get(i) else {
                            break;
                        };
                        total += work(&mut s, path, content);
                    }
                    total
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    })
}

/// The grammar the index reads `path` with (the same grammar crates), by extension.
fn grammar(path: &str) -> Option<(&'static str, tree_sitter::Language)> {
    let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "rs" => ("rust", tree_sitter_rust::LANGUAGE.into()),
        "py" | "pyi" => ("python", tree_sitter_python::LANGUAGE.into()),
        "ts" | "mts" | "cts" => (
            "typescript",
            tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
        ),
        "tsx" => ("tsx", tree_sitter_typescript::LANGUAGE_TSX.into()),
        "js" | "mjs" | "cjs" | "jsx" => ("javascript", tree_sitter_javascript::LANGUAGE.into()),
        _ => return None,
    })
}

/// One tree-sitter parser per grammar, reused by one thread.
#[derive(Default)]
struct Parsers {
    parsers: Vec<(&'static str, tree_sitter::Parser)>,
}

impl Parsers {
    /// Parses `content` with the grammar of `path`; the tree's node count.
    fn parse(&mut self, path: &str, content: &str) -> u64 {
        let Some((name, language)) = grammar(path) else {
            return 0;
        };
        let slot = match self.parsers.iter().position(|(n, _)| *n == name) {
            Some(i) => i,
            None => {
                let mut parser = tree_sitter::Parser::new();
                if parser.set_language(&language).is_err() {
                    return 0;
                }
                self.parsers.push((name, parser));
                self.parsers.len() - 1
            }
        };
        self.parsers[slot]
            .1
            .parse(content, None)
            .map_or(0, |tree| tree.root_node().descendant_count() as u64)
    }
}

/// `VmHWM` of this process, kB.
fn own_peak_kb() -> u64 {
    peak_kb_of("self")
}

/// `VmHWM` of process `pid` (`self` for this one), kB; 0 when gone.
fn peak_kb_of(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The child: `parse` or `extract` every supported file of `dir` on all cores, [`ROUNDS`]
/// times; prints the seconds of each round, what it found and its peak RSS.
pub(crate) fn child(args: &[String]) -> anyhow::Result<()> {
    let (Some(mode), Some(dir)) = (args.get(1), args.get(2)) else {
        bail!("--child-code needs a mode (parse | extract) and a folder");
    };
    let files = load(Path::new(dir))?;
    let mut seconds = Vec::new();
    let mut found = 0;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        found = match mode.as_str() {
            "parse" => on_all_cores(&files, Parsers::default, |p, path, content| {
                p.parse(path, content)
            }),
            "extract" => on_all_cores(
                &files,
                || (),
                |_, path, content| {
                    thread_flow::code::extract(path, content).map_or(0, |f| {
                        (f.symbols.len() + f.imports.len() + f.calls.len()) as u64
                    })
                },
            ),
            other => bail!("unknown --child-code mode {other}"),
        };
        seconds.push(start.elapsed().as_secs_f64());
    }
    let result = json!({
        "files": files.len(),
        "bytes": files.iter().map(|f| f.1.len()).sum::<usize>(),
        "seconds": seconds,
        "found": found,
        "peak_rss_kb": own_peak_kb(),
    });
    println!("{RESULT_MARKER}{result}");
    Ok(())
}

// -------------------------------------------------------------------------------------------
// Other programs

/// What one run of another program took.
struct Run {
    seconds: f64,
    peak_rss_kb: u64,
    stdout: String,
}

/// Runs `cmd` to completion, polling its `VmHWM` every 10 ms; fails on a non-zero exit.
fn timed(mut cmd: Command, what: &str) -> anyhow::Result<Run> {
    let start = Instant::now();
    let stdout_file = tempfile::tempfile()?;
    let stderr_file = tempfile::tempfile()?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(stdout_file.try_clone()?)
        .stderr(stderr_file.try_clone()?)
        .spawn()
        .with_context(|| format!("starting {what}"))?;
    let pid = child.id().to_string();
    let mut peak = 0;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        peak = peak.max(peak_kb_of(&pid));
        std::thread::sleep(Duration::from_millis(10));
    };
    let seconds = start.elapsed().as_secs_f64();
    let read = |mut f: std::fs::File| {
        use std::io::{Read, Seek};
        let mut s = String::new();
        let _ = f.seek(std::io::SeekFrom::Start(0));
        let _ = f.read_to_string(&mut s);
        s
    };
    let stdout = read(stdout_file);
    if !status.success() {
        let stderr = read(stderr_file);
        let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
        bail!(
            "{what} failed ({status}):\n{}\n{}",
            stdout.lines().rev().take(10).collect::<Vec<_>>().join("\n"),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    Ok(Run {
        seconds,
        peak_rss_kb: peak,
        stdout,
    })
}

/// Builds the code-index example in the dev profile (untimed) and returns its path.
fn build_job() -> anyhow::Result<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    println!("  building the code-index example in the dev profile (untimed) ...");
    let output = Command::new(cargo)
        .current_dir(workspace)
        .args(["build", "--quiet", "--example", "code-index"])
        .stdin(Stdio::null())
        .output()
        .context("running cargo build")?;
    if !output.status.success() {
        bail!(
            "cargo build --example code-index failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let target = bench_dir()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| workspace.join("target"));
    let exe = target.join("debug/examples/code-index");
    ensure!(exe.is_file(), "no {} after the build", exe.display());
    Ok(exe)
}

/// The job's `source files: N seen: A new, C changed, ...` line, as (A, C).
fn new_and_changed(stdout: &str) -> Option<(u64, u64)> {
    let line = stdout.lines().find(|l| l.starts_with("source files:"))?;
    let number_before = |word: &str| -> Option<u64> {
        let i = line.find(word)?;
        line[..i].split_whitespace().last()?.parse().ok()
    };
    Some((number_before(" new")?, number_before(" changed")?))
}

// -------------------------------------------------------------------------------------------
// The section

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_000_000.0
}

/// One measured mode, printed and as JSON.
fn report(label: &str, seconds: f64, files: usize, bytes: u64, peak_kb: u64) -> Json {
    figure(
        &format!("{label} (s)"),
        &format!(
            "{seconds:.2}   {:>6.0} files/s {:>5.2} MB/s   peak RSS {:>4.0} MB",
            per_second(files as u64, Duration::from_secs_f64(seconds)),
            mb(bytes) / seconds.max(f64::MIN_POSITIVE),
            peak_kb as f64 / 1024.0
        ),
    );
    json!({
        "seconds": seconds,
        "files_per_second": files as f64 / seconds.max(f64::MIN_POSITIVE),
        "mb_per_second": mb(bytes) / seconds.max(f64::MIN_POSITIVE),
        "peak_rss_mb": peak_kb as f64 / 1024.0,
    })
}

fn child_mode(mode: &str, dir: &Path) -> anyhow::Result<(f64, u64, Json)> {
    let result = run_child(&["--child-code", mode, &dir.to_string_lossy()])?;
    let rounds: Vec<f64> = result["seconds"]
        .as_array()
        .map(|a| a.iter().filter_map(Json::as_f64).collect())
        .unwrap_or_default();
    ensure!(!rounds.is_empty(), "the {mode} child reported no rounds");
    let peak = result["peak_rss_kb"].as_u64().unwrap_or(0);
    Ok((median(rounds), peak, result))
}

/// Runs the section; returns its JSON figures.
pub(crate) async fn run() -> anyhow::Result<Json> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    heading(&format!(
        "code: the code-index job vs tree-sitter parsing alone, on a real tree ({cores} cores)"
    ));
    let exe = build_job()?;
    let corpus = corpus()?;
    let (files, bytes) = (corpus.files.len(), corpus.bytes);
    figure(
        "corpus",
        &format!(
            "{files} files, {:.1} MB ({}), selection {}",
            mb(bytes),
            corpus
                .origins
                .iter()
                .map(|(n, b, c)| format!("{n}: {c} files {:.1} MB", mb(*b)))
                .collect::<Vec<_>>()
                .join(", "),
            corpus.fingerprint
        ),
    );

    let (parse_s, parse_peak, parse_json) = child_mode("parse", &corpus.dir)?;
    let parse = report(
        "parse-only, all cores, median of 3",
        parse_s,
        files,
        bytes,
        parse_peak,
    );
    let (extract_s, extract_peak, extract_json) = child_mode("extract", &corpus.dir)?;
    let extraction = report(
        "extraction only, all cores, median of 3",
        extract_s,
        files,
        bytes,
        extract_peak,
    );

    let ctags = match which_ctags() {
        Some(ctags) => {
            let mut cmd = Command::new(ctags);
            cmd.current_dir(&corpus.dir)
                .args(["-R", "-f", "-", "--exclude=.thread-flow", "."]);
            let run = timed(cmd, "ctags -R")?;
            let tags = run.stdout.lines().filter(|l| !l.starts_with('!')).count();
            let mut j = report("ctags -R", run.seconds, files, bytes, run.peak_rss_kb);
            j["tags"] = json!(tags);
            j
        }
        None => {
            figure("ctags -R", "not installed");
            json!(null)
        }
    };

    let mut first_cmd = Command::new(&exe);
    first_cmd.arg(&corpus.dir).arg("--quiet");
    let first = timed(first_cmd, "code-index (first run)")?;
    if let Some((added, _)) = new_and_changed(&first.stdout)
        && added != files as u64
    {
        bail!(
            "the job's first run indexed {added} new files, the corpus has {files}:\n{}",
            first.stdout
        );
    }
    let job = report(
        "job first run, dev profile",
        first.seconds,
        files,
        bytes,
        first.peak_rss_kb,
    );

    // One edit: a new function at the end of the first Python file (else the first file).
    let edited = corpus
        .files
        .iter()
        .find(|f| f.ends_with(".py"))
        .unwrap_or(&corpus.files[0]);
    let path = corpus.dir.join(edited);
    let mut text = std::fs::read_to_string(&path)?;
    text.push_str("\n\ndef bench_edited_function():\n    return 1\n");
    std::fs::write(&path, text)?;
    let mut again_cmd = Command::new(&exe);
    again_cmd.arg(&corpus.dir).arg("--quiet");
    let again = timed(again_cmd, "code-index (re-run)")?;
    if let Some(counts) = new_and_changed(&again.stdout)
        && counts != (0, 1)
    {
        bail!(
            "after editing {edited} the re-run saw {} new and {} changed files, expected 0 and \
             1:\n{}",
            counts.0,
            counts.1,
            again.stdout
        );
    }
    figure(
        "job re-run after a one-file edit (s)",
        &format!(
            "{:.2}   peak RSS {:>5.0} MB",
            again.seconds,
            again.peak_rss_kb as f64 / 1024.0
        ),
    );
    let rerun = json!({
        "seconds": again.seconds,
        "peak_rss_mb": again.peak_rss_kb as f64 / 1024.0,
        "edited": edited,
    });

    let job_over_parse = ratio(
        "job first run / parse-only",
        first.seconds / parse_s,
        Target::AtMost(2.0),
        "dev-profile job vs optimised parsing",
    );
    let rerun_s = ratio(
        "job re-run after a one-file edit (s)",
        again.seconds,
        Target::AtMost(1.5),
        "start-up included",
    );
    let extract_over_parse = ratio(
        "extraction only / parse-only",
        extract_s / parse_s,
        Target::None,
        "",
    );
    let ctags_over_parse = ctags.get("seconds").and_then(Json::as_f64).map(|c| {
        ratio(
            "ctags -R / parse-only",
            c / parse_s,
            Target::None,
            "one core",
        )
    });
    Ok(json!({
        "corpus": {
            "files": files,
            "bytes": bytes,
            "origins": corpus.origins.iter().map(|(n, b, c)| json!({"name": n, "bytes": b, "files": c})).collect::<Vec<_>>(),
            "selection": corpus.fingerprint,
        },
        "cores": cores,
        "parse_only": parse,
        "parse_only_child": parse_json,
        "extraction_only": extraction,
        "extraction_child": extract_json,
        "ctags": ctags,
        "job_first_run": job,
        "job_rerun_one_edit": rerun,
        "job_over_parse_only": job_over_parse,
        "rerun_seconds": rerun_s,
        "extraction_over_parse_only": extract_over_parse,
        "ctags_over_parse_only": ctags_over_parse,
    }))
}

fn which_ctags() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("ctags"))
        .find(|p| p.is_file())
}
