//! Printing figures with their ratios and targets, and `target/bench/summary.json`.

use serde_json::{Map, Value as Json, json};

/// A ratio against its target.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    /// The ratio must be at least this.
    AtLeast(f64),
    /// The ratio must be at most this.
    AtMost(f64),
    /// Informational, no target.
    None,
}

impl Target {
    fn met(self, value: f64) -> Option<bool> {
        match self {
            Target::AtLeast(t) => Some(value >= t),
            Target::AtMost(t) => Some(value <= t),
            Target::None => None,
        }
    }

    fn describe(self) -> String {
        match self {
            Target::AtLeast(t) => format!(">= {t}"),
            Target::AtMost(t) => format!("<= {t}"),
            Target::None => "none".into(),
        }
    }
}

/// One ratio with its target, as JSON and as a printed line.
pub(crate) fn ratio(label: &str, value: f64, target: Target, note: &str) -> Json {
    let verdict = match target.met(value) {
        Some(true) => "met",
        Some(false) => "MISSED",
        None => "-",
    };
    println!(
        "    {label:<44} {value:>10.3}   target {:<8} {verdict}{}",
        target.describe(),
        if note.is_empty() {
            String::new()
        } else {
            format!("   ({note})")
        }
    );
    let mut out = json!({ "value": value, "target": target.describe(), "met": target.met(value) });
    if !note.is_empty() {
        out["note"] = json!(note);
    }
    out
}

/// Prints one figure line.
pub(crate) fn figure(label: &str, value: &str) {
    println!("    {label:<44} {value:>10}");
}

/// Prints a section heading.
pub(crate) fn heading(title: &str) {
    println!();
    println!("== {title}");
}

/// The summary: sections from this run replace the same sections of the previous summary, so
/// running a subset (`-- local`) keeps the other figures.
pub(crate) struct Summary {
    sections: Map<String, Json>,
}

impl Summary {
    /// Loads the previous summary's sections, if any.
    pub(crate) fn load(path: &std::path::Path) -> Summary {
        let sections = std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Json>(&b).ok())
            .and_then(|j| j.get("sections").and_then(Json::as_object).cloned())
            .unwrap_or_default();
        Summary { sections }
    }

    /// Sets a section's figures (with when they were measured).
    pub(crate) fn set(&mut self, name: &str, mut figures: Json) {
        if let Some(obj) = figures.as_object_mut() {
            obj.insert("measured_at_unix".into(), json!(unix_now()));
        }
        self.sections.insert(name.into(), figures);
    }

    /// Writes the summary as pretty JSON.
    pub(crate) fn write(&self, path: &std::path::Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let doc = json!({
            "command": "cargo bench --bench d1",
            "machine": machine(),
            "sections": self.sections,
        });
        let text = serde_json::to_string_pretty(&doc).map_err(std::io::Error::other)?;
        std::fs::write(path, text + "\n")
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// CPU count, memory and CPU model, from the OS.
pub(crate) fn machine() -> Json {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|v| v.split_once(':').map(|(_, m)| m.trim().to_string()))
        .unwrap_or_default();
    json!({
        "cores": cores,
        "memory_gib": (mem_kb as f64 / 1024.0 / 1024.0).round(),
        "cpu": model,
        "os": std::env::consts::OS,
        "shared": "2 cores / 24 GiB shared with other builds; figures vary run to run",
    })
}
