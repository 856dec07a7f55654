//! Which files of the tree are indexed, and reading one safely.
//!
//! Only regular files inside the tree are indexed. The rules, applied while walking
//! (`walkdir`, never following a link by itself) and again when a file is read:
//!
//! - A symbolic link is resolved to its final target. A target outside the tree (or inside a
//!   folder that is never indexed) is skipped: nothing outside the tree is listed or read. A
//!   link to a folder inside the tree is walked once: every folder is walked at most once (a
//!   visited set of resolved folders), so loops and diamonds end.
//! - FIFOs, sockets and devices are skipped (reading them blocks forever or never ends).
//! - Files over the size limit are skipped; a read never takes more than the limit + 1 byte,
//!   so a file that grew since the listing is skipped too.
//! - A folder that cannot be read is skipped; the walk goes on.
//!
//! Everything skipped is reported (path relative to the tree and why), never silently dropped.
//!
//! Which regular files are indexed is the [`Selection`]: a supported language (by extension,
//! optionally only some languages), then include/exclude globs on the path relative to the
//! tree (`globset`, the matcher ripgrep uses: `**`, `{a,b}`, character classes).

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::fs::File;
use std::io::Read as _;
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use globset::{GlobSet, GlobSetBuilder};

use crate::code::Language;

/// Folders never indexed, at any depth.
const EXCLUDED_DIRS: [&str; 5] = [
    "target",
    "node_modules",
    ".git",
    ".thread-flow",
    "__pycache__",
];

/// What the walk indexes and where it stops.
#[derive(Debug, Clone)]
pub struct Rules {
    /// The tree's root (canonical: no symbolic link in it).
    pub root: PathBuf,
    /// Folders (relative to the root) never indexed, besides `EXCLUDED_DIRS` (the folder
    /// holding the D1 file and the state, when it is inside the tree).
    pub excluded: Vec<PathBuf>,
    /// Files larger than this (bytes) are skipped.
    pub max_bytes: u64,
    /// Which regular files are indexed.
    pub selection: Selection,
}

impl Rules {
    /// Every supported source file under `root` (canonical), up to `max_bytes` each.
    #[cfg(any(test, feature = "testing"))]
    pub fn new(root: impl Into<PathBuf>, max_bytes: u64) -> Rules {
        Rules {
            root: root.into(),
            excluded: Vec::new(),
            max_bytes,
            selection: Selection::default(),
        }
    }
}

/// A glob that is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid glob `{glob}`: {message}")]
pub struct GlobError {
    /// The glob as given.
    pub glob: String,
    /// What is wrong with it.
    pub message: String,
}

/// Which files of the tree are indexed: a language the index reads (all by default, or only
/// `languages`), whose path relative to the tree matches an `include` glob (when any is given)
/// and no `exclude` glob.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    languages: Option<Vec<Language>>,
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
}

fn glob_set(globs: &[String]) -> Result<Option<GlobSet>, GlobError> {
    if globs.is_empty() {
        return Ok(None);
    }
    let mut builder = GlobSetBuilder::new();
    for glob in globs {
        let parsed = globset::GlobBuilder::new(glob)
            .literal_separator(true)
            .build()
            .map_err(|e| GlobError {
                glob: glob.clone(),
                message: e.kind().to_string(),
            })?;
        builder.add(parsed);
    }
    builder.build().map(Some).map_err(|e| GlobError {
        glob: globs.join(", "),
        message: e.to_string(),
    })
}

impl Selection {
    /// A selection from globs (`src/**/*.rs`, `**/tests/**`; `*` stops at `/`, `**` does not)
    /// and languages (`None`: every language).
    pub fn new(
        languages: Option<Vec<Language>>,
        include: &[String],
        exclude: &[String],
    ) -> Result<Selection, GlobError> {
        Ok(Selection {
            languages,
            include: glob_set(include)?,
            exclude: glob_set(exclude)?,
        })
    }

    /// The language `key` (a `/`-separated path relative to the tree) is indexed as, or
    /// `None` when it is not selected.
    pub fn language_of(&self, key: &str) -> Option<Language> {
        let lang = Language::from_path(key)?;
        if let Some(languages) = &self.languages
            && !languages.contains(&lang)
        {
            return None;
        }
        if let Some(include) = &self.include
            && !include.is_match(key)
        {
            return None;
        }
        if let Some(exclude) = &self.exclude
            && exclude.is_match(key)
        {
            return None;
        }
        Some(lang)
    }

    /// Whether `key` is indexed.
    pub fn selects(&self, key: &str) -> bool {
        self.language_of(key).is_some()
    }
}

/// Why a path was not indexed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// A symbolic link whose target is outside the tree.
    OutsideTree,
    /// A symbolic link into a folder that is never indexed (`target`, `.thread-flow`, ...).
    IntoExcluded,
    /// A symbolic link to a folder walked already (a loop, or a second way to the same folder).
    AlreadyWalked,
    /// A symbolic link that cannot be resolved (dangling, or a loop of links).
    BadLink(String),
    /// A FIFO, socket or device with a source file's name.
    NotRegular(&'static str),
    /// Larger than the limit.
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// A folder or file that could not be read (the error).
    Unreadable(String),
    /// A path that is not valid UTF-8 (the index stores paths as text).
    NotUtf8,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::OutsideTree => f.write_str("symbolic link to a path outside the tree"),
            SkipReason::IntoExcluded => {
                f.write_str("symbolic link into a folder that is never indexed")
            }
            SkipReason::AlreadyWalked => {
                f.write_str("symbolic link to a folder indexed already (loop or second path)")
            }
            SkipReason::BadLink(e) => write!(f, "symbolic link that cannot be resolved: {e}"),
            SkipReason::NotRegular(kind) => write!(f, "not a regular file ({kind})"),
            SkipReason::TooLarge { limit } => write!(f, "larger than {limit} bytes"),
            SkipReason::Unreadable(e) => write!(f, "cannot be read: {e}"),
            SkipReason::NotUtf8 => f.write_str("path is not valid UTF-8"),
        }
    }
}

/// One skipped path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Relative to the tree's root, `/`-separated (lossy when not UTF-8).
    pub path: String,
    /// Why.
    pub reason: SkipReason,
}

/// One file to index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Relative to the root, `/`-separated: the row key.
    pub key: String,
    /// Last modification (of the link's target for a link).
    pub modified: SystemTime,
}

/// The result of [`list`].
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// Files to index, in walk order.
    pub files: Vec<Listed>,
    /// What was skipped, by path.
    pub skipped: BTreeMap<String, SkipReason>,
}

/// The outcome of [`read`].
#[derive(Debug)]
pub enum FileRead {
    /// The file's bytes (at most the limit) and its modification time.
    Content(Vec<u8>, SystemTime),
    /// The file is gone.
    Gone,
    /// The path is no longer something to index.
    Skipped(SkipReason),
}

impl Rules {
    /// Whether `relative` (to the root) is inside a folder that is never indexed.
    fn is_excluded(&self, relative: &Path) -> bool {
        relative.components().any(|c| match c {
            Component::Normal(name) => EXCLUDED_DIRS.iter().any(|d| name == *d),
            _ => false,
        }) || self.excluded.iter().any(|e| relative.starts_with(e))
    }

    /// `canonical` relative to the root, when inside it.
    fn inside<'p>(&self, canonical: &'p Path) -> Option<&'p Path> {
        canonical.strip_prefix(&self.root).ok()
    }
}

fn key_of(relative: &Path) -> Option<String> {
    let mut parts = Vec::new();
    for c in relative.components() {
        match c {
            Component::Normal(name) => parts.push(name.to_str()?),
            _ => return None,
        }
    }
    Some(parts.join("/"))
}

fn lossy(relative: &Path) -> String {
    relative.to_string_lossy().replace('\\', "/")
}

/// Whether a file of this name has a source file extension of a supported language.
fn is_source_name(name: &str) -> bool {
    Language::from_path(name).is_some()
}

fn special_kind(file_type: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "FIFO";
        }
        if file_type.is_socket() {
            return "socket";
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return "device";
        }
    }
    let _ = file_type;
    "special file"
}

/// Walks the tree under `rules.root`: every regular source file inside it, and what was
/// skipped. Never fails: what cannot be read is reported in [`Listing::skipped`].
pub fn list(rules: &Rules) -> Listing {
    let mut listing = Listing::default();
    let mut skip = |path: String, reason: SkipReason| {
        listing.skipped.entry(path).or_insert(reason);
    };
    let mut files = Vec::new();
    // Resolved folders walked so far.
    let mut walked: HashSet<PathBuf> = HashSet::new();
    // Walks to do: (path to walk as seen in the tree, its path relative to the root as seen
    // in the tree, its resolved path). The root first; links to folders in later rounds, so a
    // folder is reached by its own path before any link to it.
    let mut walks: Vec<(PathBuf, PathBuf, PathBuf)> =
        vec![(rules.root.clone(), PathBuf::new(), rules.root.clone())];
    let mut links: Vec<(PathBuf, PathBuf)> = Vec::new();
    while !walks.is_empty() {
        for (start, start_rel, start_real) in std::mem::take(&mut walks) {
            if !walked.insert(start_real.clone()) {
                skip(lossy(&start_rel), SkipReason::AlreadyWalked);
                continue;
            }
            let mut entries = walkdir::WalkDir::new(&start)
                .follow_links(false)
                .sort_by_file_name()
                .into_iter();
            while let Some(entry) = entries.next() {
                let entry = match entry {
                    Ok(entry) => entry,
                    Err(e) => {
                        let rel = e
                            .path()
                            .and_then(|p| p.strip_prefix(&start).ok())
                            .map(|p| start_rel.join(p))
                            .unwrap_or_else(|| start_rel.clone());
                        let error = e
                            .io_error()
                            .map_or_else(|| e.to_string(), ToString::to_string);
                        skip(lossy(&rel), SkipReason::Unreadable(error));
                        continue;
                    }
                };
                if entry.depth() == 0 {
                    continue;
                }
                let Ok(below) = entry.path().strip_prefix(&start) else {
                    continue;
                };
                let rel = start_rel.join(below);
                let real = start_real.join(below);
                let file_type = entry.file_type();
                if file_type.is_dir() {
                    if rules.is_excluded(&rel)
                        || rules.is_excluded(&relative_or_empty(rules, &real))
                    {
                        entries.skip_current_dir();
                    } else if !walked.insert(real) {
                        // Reached through a link walked earlier in this round.
                        skip(lossy(&rel), SkipReason::AlreadyWalked);
                        entries.skip_current_dir();
                    }
                    continue;
                }
                if file_type.is_symlink() {
                    links.push((entry.path().to_path_buf(), rel));
                    continue;
                }
                let name = entry.file_name().to_string_lossy();
                if !is_source_name(&name) {
                    continue;
                }
                let Some(key) = key_of(&rel) else {
                    skip(lossy(&rel), SkipReason::NotUtf8);
                    continue;
                };
                if !rules.selection.selects(&key) {
                    continue;
                }
                if !file_type.is_file() {
                    skip(key, SkipReason::NotRegular(special_kind(file_type)));
                    continue;
                }
                match entry.metadata() {
                    Ok(meta) if meta.len() > rules.max_bytes => skip(
                        key,
                        SkipReason::TooLarge {
                            limit: rules.max_bytes,
                        },
                    ),
                    Ok(meta) => files.push(Listed {
                        key,
                        modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                    }),
                    Err(e) => skip(key, SkipReason::Unreadable(e.to_string())),
                }
            }
        }
        for (link, rel) in std::mem::take(&mut links) {
            match resolve(rules, &link) {
                Err(reason) => {
                    // Only report what would have been indexed: a link with a source name,
                    // or one to a folder.
                    let relevant = is_source_name(&link.to_string_lossy())
                        || std::fs::metadata(&link).is_ok_and(|m| m.is_dir());
                    if relevant {
                        skip(lossy(&rel), reason);
                    }
                }
                Ok((real, meta)) if meta.is_dir() => {
                    if rules.is_excluded(&rel) {
                        continue;
                    }
                    walks.push((link, rel, real));
                }
                Ok((_, meta)) => {
                    let name = rel
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    if !is_source_name(&name) {
                        continue;
                    }
                    let Some(key) = key_of(&rel) else {
                        skip(lossy(&rel), SkipReason::NotUtf8);
                        continue;
                    };
                    if !rules.selection.selects(&key) {
                        continue;
                    }
                    if !meta.is_file() {
                        skip(key, SkipReason::NotRegular(special_kind(meta.file_type())));
                    } else if meta.len() > rules.max_bytes {
                        skip(
                            key,
                            SkipReason::TooLarge {
                                limit: rules.max_bytes,
                            },
                        );
                    } else {
                        files.push(Listed {
                            key,
                            modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                        });
                    }
                }
            }
        }
    }
    listing.files = files;
    listing
}

fn relative_or_empty(rules: &Rules, real: &Path) -> PathBuf {
    rules
        .inside(real)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Resolves `path` (which may pass through links) to its final target inside the tree:
/// `(resolved path, its metadata)`, or why it is not indexed.
fn resolve(rules: &Rules, path: &Path) -> Result<(PathBuf, std::fs::Metadata), SkipReason> {
    let real = std::fs::canonicalize(path).map_err(|e| SkipReason::BadLink(e.to_string()))?;
    let Some(inside) = rules.inside(&real) else {
        return Err(SkipReason::OutsideTree);
    };
    if rules.is_excluded(inside) {
        return Err(SkipReason::IntoExcluded);
    }
    let meta = std::fs::metadata(&real).map_err(|e| SkipReason::BadLink(e.to_string()))?;
    Ok((real, meta))
}

/// Opens a regular file without following a link and without blocking on a FIFO.
fn open_regular(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW);
    }
    options.open(path)
}

/// Reads the file with row key `key` under the same rules as [`list`]: resolved inside the
/// tree, a regular file (checked on the opened file), at most `max_bytes` (reads at most
/// `max_bytes + 1` bytes to tell).
pub fn read(rules: &Rules, key: &str) -> FileRead {
    let relative = Path::new(key);
    if relative.is_absolute()
        || relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
    {
        return FileRead::Skipped(SkipReason::OutsideTree);
    }
    if rules.is_excluded(relative) {
        return FileRead::Skipped(SkipReason::IntoExcluded);
    }
    let path = rules.root.join(relative);
    let real = match std::fs::canonicalize(&path) {
        Ok(real) => real,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return FileRead::Gone,
        Err(e) => return FileRead::Skipped(SkipReason::BadLink(e.to_string())),
    };
    match rules.inside(&real) {
        None => return FileRead::Skipped(SkipReason::OutsideTree),
        Some(inside) if rules.is_excluded(inside) => {
            return FileRead::Skipped(SkipReason::IntoExcluded);
        }
        Some(_) => {}
    }
    let file = match open_regular(&real) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return FileRead::Gone,
        Err(e) => return FileRead::Skipped(SkipReason::Unreadable(e.to_string())),
    };
    let meta = match file.metadata() {
        Ok(meta) => meta,
        Err(e) => return FileRead::Skipped(SkipReason::Unreadable(e.to_string())),
    };
    if !meta.is_file() {
        return FileRead::Skipped(SkipReason::NotRegular(special_kind(meta.file_type())));
    }
    if meta.len() > rules.max_bytes {
        return FileRead::Skipped(SkipReason::TooLarge {
            limit: rules.max_bytes,
        });
    }
    let mut content = Vec::new();
    let limit = rules.max_bytes.saturating_add(1);
    if let Err(e) = file.take(limit).read_to_end(&mut content) {
        return FileRead::Skipped(SkipReason::Unreadable(e.to_string()));
    }
    if content.len() as u64 > rules.max_bytes {
        return FileRead::Skipped(SkipReason::TooLarge {
            limit: rules.max_bytes,
        });
    }
    FileRead::Content(content, meta.modified().unwrap_or(SystemTime::UNIX_EPOCH))
}
