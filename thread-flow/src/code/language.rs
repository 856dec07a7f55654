//! The languages `thread_flow::code` reads, chosen by file extension.

use std::fmt;

use crate::D1Value;

/// A language the code index can read; stored as lowercase text (`rust`, `cpp`, `csharp`, ...).
///
/// Every variant exists whatever the enabled features, so stored rows always decode; a
/// language is only *read* when its cargo feature (`code-rust`, `code-go`, ...) is on
/// ([`Language::is_enabled`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, D1Value)]
#[d1(rename_all = "lowercase")]
pub enum Language {
    /// `.rs` (feature `code-rust`)
    Rust,
    /// `.py`, `.pyi` (feature `code-python`)
    Python,
    /// `.ts`, `.mts`, `.cts`, `.tsx` (feature `code-typescript`)
    TypeScript,
    /// `.js`, `.mjs`, `.cjs`, `.jsx` (feature `code-javascript`)
    JavaScript,
    /// `.go` (feature `code-go`)
    Go,
    /// `.java` (feature `code-java`)
    Java,
    /// `.c`, `.h` (feature `code-c`). A `.h` header is read as C, also in C++ projects: the
    /// extension cannot tell them apart and the C grammar reads the common subset (a build
    /// with `code-cpp` but without `code-c` reads `.h` as C++).
    C,
    /// `.cc`, `.cpp`, `.cxx`, `.c++`, `.hpp`, `.hh`, `.hxx`, `.h++` (feature `code-cpp`)
    Cpp,
    /// `.cs` (feature `code-csharp`)
    CSharp,
    /// `.rb` (feature `code-ruby`)
    Ruby,
}

impl Language {
    /// Every language, in a fixed order (enabled or not).
    pub const ALL: [Language; 10] = [
        Language::Rust,
        Language::Python,
        Language::TypeScript,
        Language::JavaScript,
        Language::Go,
        Language::Java,
        Language::C,
        Language::Cpp,
        Language::CSharp,
        Language::Ruby,
    ];

    /// The file extensions (lowercase, without the dot) read as this language.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Language::Rust => &["rs"],
            Language::Python => &["py", "pyi"],
            Language::TypeScript => &["ts", "mts", "cts", "tsx"],
            Language::JavaScript => &["js", "mjs", "cjs", "jsx"],
            Language::Go => &["go"],
            Language::Java => &["java"],
            Language::C => &["c", "h"],
            Language::Cpp => &["cc", "cpp", "cxx", "c++", "hpp", "hh", "hxx", "h++"],
            Language::CSharp => &["cs"],
            Language::Ruby => &["rb"],
        }
    }

    /// The language of `path`, from its extension (case-insensitive); `None` for files the
    /// index skips: an unknown extension, or a language whose cargo feature is off.
    ///
    /// ```
    /// # #[cfg(feature = "code-rust")] {
    /// use thread_flow::code::Language;
    /// assert_eq!(Language::from_path("src/lib.rs"), Some(Language::Rust));
    /// assert_eq!(Language::from_path("Makefile"), None);
    /// # }
    /// ```
    pub fn from_path(path: &str) -> Option<Language> {
        let file_name = path.rsplit(['/', '\\']).next().unwrap_or(path);
        let (stem, ext) = file_name.rsplit_once('.')?;
        if stem.is_empty() {
            return None; // `.rs` alone is a hidden file named "rs", not Rust
        }
        let ext = ext.to_ascii_lowercase();
        let lang = Language::ALL
            .into_iter()
            .find(|lang| lang.extensions().contains(&ext.as_str()))?;
        match lang {
            _ if lang.is_enabled() => Some(lang),
            // A build with C++ but without C still reads headers, as C++.
            Language::C if ext == "h" && Language::Cpp.is_enabled() => Some(Language::Cpp),
            _ => None,
        }
    }

    /// The name stored in a `language` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::Python => "python",
            Language::TypeScript => "typescript",
            Language::JavaScript => "javascript",
            Language::Go => "go",
            Language::Java => "java",
            Language::C => "c",
            Language::Cpp => "cpp",
            Language::CSharp => "csharp",
            Language::Ruby => "ruby",
        }
    }

    /// The language stored as `name` (see [`Language::as_str`]).
    pub fn parse(name: &str) -> Option<Language> {
        Language::ALL.into_iter().find(|l| l.as_str() == name)
    }

    /// Whether this build reads the language (its cargo feature is on).
    pub fn is_enabled(self) -> bool {
        match self {
            Language::Rust => cfg!(feature = "code-rust"),
            Language::Python => cfg!(feature = "code-python"),
            Language::TypeScript => cfg!(feature = "code-typescript"),
            Language::JavaScript => cfg!(feature = "code-javascript"),
            Language::Go => cfg!(feature = "code-go"),
            Language::Java => cfg!(feature = "code-java"),
            Language::C => cfg!(feature = "code-c"),
            Language::Cpp => cfg!(feature = "code-cpp"),
            Language::CSharp => cfg!(feature = "code-csharp"),
            Language::Ruby => cfg!(feature = "code-ruby"),
        }
    }

    /// The tree-sitter grammar [`extract`](super::extract) reads `path` with (`path` only
    /// picks a variant: TSX for `.tsx`); `None` when the language's feature is off. For
    /// callers that want the syntax tree itself, or parse-only speed baselines.
    pub fn grammar(self, path: &str) -> Option<tree_sitter::Language> {
        let spec = super::lang::spec(self)?;
        spec.grammars.get((spec.grammar_for)(path)).map(|g| g())
    }

    /// The languages this build reads, in [`Language::ALL`] order.
    pub fn enabled() -> impl Iterator<Item = Language> {
        Language::ALL.into_iter().filter(|l| l.is_enabled())
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
