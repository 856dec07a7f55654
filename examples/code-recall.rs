//! Recall of `thread_flow::code` against Universal Ctags on real source trees.
//!
//! ```text
//! cargo run --release --example code-recall -- DIR [DIR...] [--misses N] [--lang NAME]
//!     [--exclude DIRNAME]... [--ctags BIN]
//! ```
//!
//! Lists the files under each DIR that the code index reads (a supported, enabled extension,
//! at most 2 MiB, valid UTF-8; symlinks are not followed), hands exactly that list to
//! `ctags -L - --output-format=json --fields=+nKlE`, and extracts every file with
//! [`thread_flow::code::extract`] on all cores. A ctags definition of a counted kind is
//! *found* when the extractor reports the same name in the same file with ctags' line inside
//! `[start_line, end_line]` (the kind need not agree; a JavaScript private name `#x` matches
//! ctags' `x`).
//!
//! Counted ctags kinds, by category (per ctags language):
//! - function: Rust/C/C++ `function`, Python `function`, JavaScript/TypeScript `function` and
//!   `generator`, Go `func`;
//! - method: `method` (Rust, JS, TS, Java, C#, Ruby), Python `member`, JavaScript `getter`
//!   and `setter`, Go `methodSpec`, Ruby `singletonMethod`;
//! - class: `class`, `struct` (Rust, Go, C, C++, C#), C/C++ `union`;
//! - enum: `enum`; interface: `interface` (Rust traits, TS, Go, Java, C#), Java `annotation`;
//! - module: Rust/Ruby `module`, TypeScript/C++/C# `namespace`, Go/Java `package` (not
//!   Python's `namespace`: that is an `import ... as` alias);
//! - type: Rust/C/C++/C# `typedef`, TypeScript `alias` (not on `import` lines: ctags reports
//!   `import { type X }` as an alias too), Go `type` and `talias`;
//! - macro: Rust and C/C++ `macro`.
//!
//! Not counted: names ctags makes up for anonymous definitions (its `anonymous` extra),
//! variables, constants, fields, members, enumerators, properties, Rust
//! `implementation`, Ruby `alias`/`accessor`, and everything ctags marks reference-only.
//!
//! Also times a parse-only pass over the same files (same grammars, all cores, nothing
//! else), so the cost of extraction over parsing shows. Prints found/total per language and category, then the first N misses per language
//! (`path:line name (ctags kind)`) to tune queries with.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use thread_flow::code::{Language, extract, extract_as};

/// Files over this size are skipped, as the code index skips them.
const MAX_FILE_BYTES: u64 = 2 * 1024 * 1024;

struct Options {
    dirs: Vec<PathBuf>,
    misses: usize,
    only: Option<Language>,
    exclude: Vec<String>,
    ctags: String,
}

fn usage() -> &'static str {
    "usage: code-recall DIR [DIR...] [--misses N] [--lang NAME] [--exclude DIRNAME]... [--ctags BIN]\n\
     Measures how many Universal Ctags definitions thread_flow::code finds.\n\
     --misses N        misses listed per language (default 20)\n\
     --lang NAME       only this language (rust, python, typescript, ...)\n\
     --exclude NAME    skip folders with this name (repeatable; e.g. site-packages)\n\
     --ctags BIN       the Universal Ctags program (default: ctags)"
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        dirs: Vec::new(),
        misses: 20,
        only: None,
        exclude: Vec::new(),
        ctags: "ctags".to_owned(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--misses" => {
                let v = value("--misses")?;
                options.misses = v
                    .parse()
                    .map_err(|_| format!("--misses {v}: not a number"))?;
            }
            "--lang" => {
                let v = value("--lang")?;
                let lang = Language::parse(&v).ok_or(format!(
                    "--lang {v}: one of {}",
                    Language::ALL.map(Language::as_str).join(", ")
                ))?;
                options.only = Some(lang);
            }
            "--exclude" => options.exclude.push(value("--exclude")?),
            "--ctags" => options.ctags = value("--ctags")?,
            "-h" | "--help" => return Err(usage().to_owned()),
            _ if arg.starts_with("--") => return Err(format!("unknown option {arg}\n{}", usage())),
            _ => options.dirs.push(PathBuf::from(arg)),
        }
    }
    if options.dirs.is_empty() {
        return Err(usage().to_owned());
    }
    Ok(options)
}

/// One file the index would read.
struct Source {
    path: String,
    lang: Language,
}

fn list_files(options: &Options) -> Vec<Source> {
    let mut files = Vec::new();
    for dir in &options.dirs {
        let walk = walkdir::WalkDir::new(dir)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| {
                e.depth() == 0
                    || !e.file_type().is_dir()
                    || !options.exclude.iter().any(|x| e.file_name() == x.as_str())
            });
        for entry in walk {
            let Ok(entry) = entry else { continue };
            if !entry.file_type().is_file() {
                continue;
            }
            let Some(path) = entry.path().to_str() else {
                continue;
            };
            let Some(lang) = Language::from_path(path) else {
                continue;
            };
            if options.only.is_some_and(|only| only != lang) {
                continue;
            }
            if entry.metadata().map_or(true, |m| m.len() > MAX_FILE_BYTES) {
                continue;
            }
            files.push(Source {
                path: path.to_owned(),
                lang,
            });
        }
    }
    files
}

/// A counted ctags definition.
struct Expected {
    name: String,
    line: u32,
    kind: String,
    category: &'static str,
}

/// The category a ctags kind counts in, or `None` when it is not counted.
fn category(language: &str, kind: &str) -> Option<&'static str> {
    let c = match (language, kind) {
        ("Go", "func") => "function",
        ("JavaScript" | "TypeScript", "generator") => "function",
        (_, "function") => "function",
        ("Python", "member") => "method",
        ("JavaScript", "getter" | "setter") => "method",
        ("Go", "methodSpec") => "method",
        ("Ruby", "singletonMethod") => "method",
        (_, "method") => "method",
        (_, "class" | "struct") => "class",
        ("C" | "C++", "union") => "class",
        (_, "enum") => "enum",
        (_, "interface") => "interface",
        ("Java", "annotation") => "interface",
        ("Rust" | "Ruby", "module") => "module",
        ("TypeScript" | "C++" | "C#", "namespace") => "module",
        ("Go" | "Java", "package") => "module",
        (_, "typedef") => "type",
        ("TypeScript", "alias") => "type",
        ("Go", "type" | "talias") => "type",
        ("Rust" | "C" | "C++", "macro") => "macro",
        _ => return None,
    };
    Some(c)
}

/// Runs ctags over exactly `files`; counted definitions by path.
fn run_ctags(ctags: &str, files: &[Source]) -> Result<HashMap<String, Vec<Expected>>, String> {
    let mut child = Command::new(ctags)
        .args([
            "-L",
            "-",
            "-f",
            "-",
            "--output-format=json",
            "--fields=+nKlE",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {ctags}: {e} (install Universal Ctags)"))?;
    let mut stdin = child.stdin.take().ok_or("ctags has no stdin")?;
    let list: String = files.iter().map(|f| format!("{}\n", f.path)).collect();
    let writer = std::thread::spawn(move || stdin.write_all(list.as_bytes()));
    let stdout = child.stdout.take().ok_or("ctags has no stdout")?;
    let mut by_path: HashMap<String, Vec<Expected>> = HashMap::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| format!("reading ctags output: {e}"))?;
        let Ok(tag) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if tag["_type"] != "tag" {
            continue;
        }
        // Names ctags makes up for anonymous functions and classes (`AnonymousFunction1a2b`).
        if tag["extras"]
            .as_str()
            .is_some_and(|extras| extras.split(',').any(|e| e == "anonymous"))
        {
            continue;
        }
        let field = |k: &str| tag[k].as_str().unwrap_or_default();
        let Some(category) = category(field("language"), field("kind")) else {
            continue;
        };
        // ctags reports TypeScript's `import { type X }` / `import type X` as aliases:
        // imports, not type definitions.
        if field("language") == "TypeScript"
            && field("kind") == "alias"
            && field("pattern")
                .trim_start_matches("/^")
                .trim_start()
                .starts_with("import ")
        {
            continue;
        }
        let Some(line_no) = tag["line"].as_u64().and_then(|l| u32::try_from(l).ok()) else {
            continue;
        };
        by_path
            .entry(field("path").to_owned())
            .or_default()
            .push(Expected {
                name: comparable(field("name")),
                line: line_no,
                kind: format!("{} {}", field("language"), field("kind")),
                category,
            });
    }
    writer
        .join()
        .map_err(|_| "writing the file list panicked")?
        .map_err(|e| format!("writing the file list to ctags: {e}"))?;
    let status = child
        .wait()
        .map_err(|e| format!("waiting for ctags: {e}"))?;
    if !status.success() {
        return Err(format!("ctags failed: {status}"));
    }
    Ok(by_path)
}

/// A name as both sides compare it: without the `#` of a JavaScript private name, which
/// ctags leaves out (`#dispose` is reported as `dispose`), and without whitespace, which
/// ctags puts into C++ operators (`operator =` for the source's `operator=`).
fn comparable(name: &str) -> String {
    name.strip_prefix('#')
        .unwrap_or(name)
        .split_whitespace()
        .collect()
}

/// Our definitions of one file: name -> (start, end) ranges.
type Found = HashMap<String, Vec<(u32, u32)>>;

/// Extracts every file on all cores; files that are not UTF-8 are left out (the index skips
/// them too). Returns the language each file was read as and its definitions, by path, and
/// the bytes read.
fn extract_all(files: &[Source]) -> (HashMap<String, (Language, Found)>, u64) {
    let next = AtomicUsize::new(0);
    let results = Mutex::new(HashMap::with_capacity(files.len()));
    let bytes = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(file) = files.get(i) else { break };
                    let Ok(content) = std::fs::read_to_string(&file.path) else {
                        continue;
                    };
                    bytes.fetch_add(content.len(), Ordering::Relaxed);
                    // `extract` also decides what a `.h` header is (C or C++)
                    let facts = extract(&file.path, &content)
                        .unwrap_or_else(|| extract_as(file.lang, &file.path, &content));
                    let mut found: Found = HashMap::new();
                    for s in facts.symbols {
                        found
                            .entry(comparable(&s.name))
                            .or_default()
                            .push((s.start_line, s.end_line));
                    }
                    if let Ok(mut results) = results.lock() {
                        results.insert(file.path.clone(), (facts.lang, found));
                    }
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_default();
    (results, bytes.into_inner() as u64)
}

/// CPU seconds this process has used so far (user + system), from `/proc/self/stat`
/// (Linux; `None` elsewhere). The machine may be shared, so the comparison of extraction with
/// parsing uses CPU time, not only wall time.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the `(comm)` one; utime and stime are fields 14 and 15 (1-based).
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every Linux platform Rust supports.
    Some((utime + stime) / 100.0)
}

/// Parses every file with the same grammars on all cores and does nothing else: the floor
/// extraction is compared with.
fn parse_all(files: &[Source]) -> std::time::Duration {
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut parser = tree_sitter::Parser::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(file) = files.get(i) else { break };
                    let Ok(content) = std::fs::read_to_string(&file.path) else {
                        continue;
                    };
                    let Some(grammar) = file.lang.grammar(&file.path) else {
                        continue;
                    };
                    if parser.set_language(&grammar).is_ok() {
                        std::hint::black_box(parser.parse(&content, None));
                    }
                }
            });
        }
    });
    started.elapsed()
}

#[derive(Default)]
struct Tally {
    found: u64,
    total: u64,
}

impl Tally {
    fn add(&mut self, hit: bool) {
        self.total += 1;
        self.found += u64::from(hit);
    }

    fn percent(&self) -> f64 {
        if self.total == 0 {
            100.0
        } else {
            100.0 * self.found as f64 / self.total as f64
        }
    }
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let files = list_files(&options);
    eprintln!("{} files to read", files.len());

    let started = Instant::now();
    let expected = match run_ctags(&options.ctags, &files) {
        Ok(expected) => expected,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    let ctags_time = started.elapsed();
    let started = Instant::now();
    let cpu_before = process_cpu_seconds();
    let (ours, bytes) = extract_all(&files);
    let extract_time = started.elapsed();
    let cpu_between = process_cpu_seconds();
    let parse_time = parse_all(&files);
    let cpu_after = process_cpu_seconds();
    let mut per_lang_files: BTreeMap<Language, u64> = BTreeMap::new();
    for (lang, _) in ours.values() {
        *per_lang_files.entry(*lang).or_default() += 1;
    }

    let mut tallies: BTreeMap<(Language, &'static str), Tally> = BTreeMap::new();
    let mut totals: BTreeMap<Language, Tally> = BTreeMap::new();
    let mut misses: BTreeMap<Language, Vec<String>> = BTreeMap::new();
    for file in &files {
        let Some((lang, found)) = ours.get(&file.path) else {
            continue; // not UTF-8: the index does not read it either
        };
        let lang = *lang;
        let Some(wanted) = expected.get(&file.path) else {
            continue;
        };
        for want in wanted {
            let hit = found.get(&want.name).is_some_and(|ranges| {
                ranges
                    .iter()
                    .any(|&(start, end)| start <= want.line && want.line <= end)
            });
            tallies.entry((lang, want.category)).or_default().add(hit);
            totals.entry(lang).or_default().add(hit);
            if !hit {
                misses.entry(lang).or_default().push(format!(
                    "{}:{} {} ({})",
                    file.path, want.line, want.name, want.kind
                ));
            }
        }
    }

    println!(
        "{} files, {:.1} MB; ctags {:.2} s, extract {:.2} s, parse only {:.2} s \
         (extract/parse {:.2}x; {} threads)",
        files.len(),
        bytes as f64 / 1e6,
        ctags_time.as_secs_f64(),
        extract_time.as_secs_f64(),
        parse_time.as_secs_f64(),
        extract_time.as_secs_f64() / parse_time.as_secs_f64().max(1e-9),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    if let (Some(before), Some(between), Some(after)) = (cpu_before, cpu_between, cpu_after) {
        println!(
            "CPU time: extract {:.2} s, parse only {:.2} s (extract/parse {:.2}x)",
            between - before,
            after - between,
            (between - before) / (after - between).max(1e-9)
        );
    }
    println!();
    println!(
        "{:<12} {:<10} {:>8} {:>8} {:>8}",
        "language", "kind", "found", "ctags", "recall"
    );
    for (lang, total) in &totals {
        for ((l, category), tally) in &tallies {
            if l == lang {
                println!(
                    "{:<12} {:<10} {:>8} {:>8} {:>7.1}%",
                    lang.as_str(),
                    category,
                    tally.found,
                    tally.total,
                    tally.percent()
                );
            }
        }
        println!(
            "{:<12} {:<10} {:>8} {:>8} {:>7.1}%   ({} files)",
            lang.as_str(),
            "ALL",
            total.found,
            total.total,
            total.percent(),
            per_lang_files.get(lang).copied().unwrap_or(0)
        );
    }
    if options.misses > 0 {
        for (lang, list) in &misses {
            println!();
            println!(
                "{} misses ({} of {}):",
                lang.as_str(),
                list.len().min(options.misses),
                list.len()
            );
            for miss in list.iter().take(options.misses) {
                println!("  {miss}");
            }
        }
    }
    ExitCode::SUCCESS
}
