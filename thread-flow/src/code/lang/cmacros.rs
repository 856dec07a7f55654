//! C and C++: blank the macros that tree-sitter cannot read around, before parsing.
//!
//! tree-sitter parses C and C++ without running the preprocessor, so a macro it does not
//! know can derail the parse of everything around it. Three shapes are common in real code
//! and cost whole classes or files:
//!
//! - an export or attribute macro between `class`/`struct`/`union` and the name
//!   (`class V8_EXPORT Isolate {`, `struct API(x) Params : Base {`): the class reads as a
//!   function and its members are lost;
//! - a macro directly before such a keyword or a declaration keyword
//!   (`static SQLITE_WSD struct Mem0Global {`, `V8_INLINE static int Cast(...)`,
//!   `V8_INLINE ~Scope()`);
//! - a macro alone on its line between declarations (`BSSL_NAMESPACE_BEGIN`,
//!   `OPENSSL_MSVC_PRAGMA(warning(pop))`, `Q_OBJECT`): what follows reads as its arguments.
//!
//! [`blank_macros`] overwrites those macro tokens with spaces. The text keeps its length and
//! line breaks, so every byte offset of the parse still points at the same place in the
//! original text, from which names and signatures are taken. Only tokens that cannot be
//! anything but a macro where they stand are blanked: an upper-case identifier followed by
//! another name before a class body, or by a keyword no type can precede; a line holding
//! nothing but an upper-case identifier (and its arguments) after a complete statement and
//! not followed by what would continue it (a name with `(`, `{`, `*`, an operator).

use std::ops::Range;

/// Keywords that never follow a type name, so an upper-case identifier right before one is
/// a macro (`V8_INLINE static`, `SQLITE_WSD struct`). `const` and `volatile` are not here:
/// `FOO const *p` is a declaration of a pointer to a `FOO`.
const AFTER_MACRO_KEYWORDS: &[&[u8]] = &[
    b"static",
    b"inline",
    b"virtual",
    b"explicit",
    b"constexpr",
    b"friend",
    b"extern",
    b"void",
    b"bool",
    b"int",
    b"char",
    b"unsigned",
    b"signed",
    b"short",
    b"float",
    b"double",
    b"template",
    b"typename",
    b"struct",
    b"class",
    b"union",
    b"enum",
];

/// `src` with the macros described in the module docs replaced by spaces, or `None` when
/// there are none.
pub(super) fn blank_macros(src: &str) -> Option<String> {
    let bytes = src.as_bytes();
    let mut blanks: Vec<Range<usize>> = Vec::new();
    token_macros(bytes, &mut blanks);
    line_macros(src, &mut blanks);
    if blanks.is_empty() {
        return None;
    }
    let mut out = bytes.to_vec();
    for range in blanks {
        for b in &mut out[range] {
            if !matches!(*b, b'\n' | b'\r') {
                *b = b' ';
            }
        }
    }
    // Only ASCII bytes were replaced by ASCII spaces, so the text is still UTF-8.
    String::from_utf8(out).ok()
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `FOO`, `V8_EXPORT`, `API2`, `_GLIBCXX_VISIBILITY`: upper-case letters, digits and `_`,
/// the first letter after any leading `_`, at least two characters.
fn is_macro_name(word: &[u8]) -> bool {
    let rest = &word[word.iter().take_while(|&&b| b == b'_').count()..];
    word.len() >= 2
        && rest.first().is_some_and(u8::is_ascii_uppercase)
        && rest
            .iter()
            .all(|&b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// The end of the identifier starting at `at`.
fn ident_end(bytes: &[u8], at: usize) -> usize {
    let mut end = at;
    while end < bytes.len() && is_ident(bytes[end]) {
        end += 1;
    }
    end
}

/// `at` moved past spaces and tabs (not line breaks).
fn skip_blanks(bytes: &[u8], mut at: usize) -> usize {
    while at < bytes.len() && matches!(bytes[at], b' ' | b'\t') {
        at += 1;
    }
    at
}

/// The end of a balanced `( ... )` group starting at `at` on one line, if there is one.
fn paren_group_end(bytes: &[u8], at: usize) -> Option<usize> {
    if bytes.get(at) != Some(&b'(') {
        return None;
    }
    let mut depth = 0usize;
    for (i, &b) in bytes.iter().enumerate().skip(at) {
        match b {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            b'\n' | b';' | b'{' | b'}' => return None,
            _ => {}
        }
    }
    None
}

/// Macros among the tokens: after `class`/`struct`/`union` before the name, and before a
/// keyword no type can precede.
fn token_macros(bytes: &[u8], blanks: &mut Vec<Range<usize>>) {
    let mut at = 0;
    while at < bytes.len() {
        if at == 0 || bytes[at - 1] == b'\n' {
            // a preprocessor directive keeps its words (`#define V8_INLINE inline`)
            let first = skip_blanks(bytes, at);
            if bytes.get(first) == Some(&b'#') {
                at = directive_end(bytes, first);
                continue;
            }
        }
        if !is_ident_start(bytes[at]) || (at > 0 && is_ident(bytes[at - 1])) {
            at += 1;
            continue;
        }
        let end = ident_end(bytes, at);
        let word = &bytes[at..end];
        if matches!(word, b"class" | b"struct" | b"union") {
            class_macros(bytes, end, blanks);
        } else if word == b"namespace" {
            namespace_macro(bytes, end, blanks);
        } else if is_macro_name(word) {
            let next = skip_blanks(bytes, end);
            let next_end = ident_end(bytes, next);
            if bytes.get(next) == Some(&b'~')
                || (next_end > next && AFTER_MACRO_KEYWORDS.contains(&&bytes[next..next_end]))
            {
                blanks.push(at..end);
            } else if after_parameters(bytes, at) {
                let macro_end = paren_group_end(bytes, end).unwrap_or(end);
                if before_body(bytes, macro_end) {
                    blanks.push(at..macro_end);
                }
            }
        }
        at = end;
    }
}

/// Words that may stand between a function's parameters and its body.
const QUALIFIERS: &[&[u8]] = &[b"const", b"volatile", b"override", b"final", b"noexcept"];

/// Whether the token at `at` follows a closing `)` on the same line (maybe after qualifiers
/// such as `const`): where a function's parameter list ends. (On a line of its own, after a
/// macro call such as `INSTANTIATE(...)`, it is more likely a macro defining something:
/// `TEST(Suite, Name) {`.)
fn after_parameters(bytes: &[u8], at: usize) -> bool {
    let mut pos = at;
    loop {
        while pos > 0 && matches!(bytes[pos - 1], b' ' | b'\t') {
            pos -= 1;
        }
        if pos == 0 {
            return false;
        }
        if bytes[pos - 1] == b')' {
            return true;
        }
        let word_end = pos;
        while pos > 0 && is_ident(bytes[pos - 1]) {
            pos -= 1;
        }
        if pos == word_end || !QUALIFIERS.contains(&&bytes[pos..word_end]) {
            return false;
        }
    }
}

/// Whether a function body (`{`) or constructor initializers (`:`) follow `at`, maybe after
/// qualifiers and more macros (`() const _GLIBCXX_NOEXCEPT\n{`).
fn before_body(bytes: &[u8], at: usize) -> bool {
    let mut pos = at;
    loop {
        while pos < bytes.len() && bytes[pos].is_ascii_whitespace() {
            pos += 1;
        }
        match bytes.get(pos) {
            Some(b'{') => return true,
            Some(b':') => return bytes.get(pos + 1) != Some(&b':'),
            Some(&b) if is_ident_start(b) => {
                let end = ident_end(bytes, pos);
                let word = &bytes[pos..end];
                if !(QUALIFIERS.contains(&word) || is_macro_name(word)) {
                    return false;
                }
                pos = paren_group_end(bytes, end).unwrap_or(end);
            }
            _ => return false,
        }
    }
}

/// The end of the preprocessor directive starting at `at`: its line break, after any lines
/// it continues with `\`.
fn directive_end(bytes: &[u8], at: usize) -> usize {
    let mut pos = at;
    while pos < bytes.len() {
        if bytes[pos] == b'\n' {
            let continued = bytes[..pos].ends_with(b"\\") || bytes[..pos].ends_with(b"\\\r");
            if !continued {
                return pos;
            }
        }
        pos += 1;
    }
    pos
}

/// After `class`/`struct`/`union` (ending at `at`): `MACRO [MACRO(args)...] Name [final]`
/// followed by `{`, a single `:` or the end of the line blanks the macros.
fn class_macros(bytes: &[u8], at: usize, blanks: &mut Vec<Range<usize>>) {
    let mut words: Vec<Range<usize>> = Vec::new();
    let mut pos = skip_blanks(bytes, at);
    if pos == at {
        return; // `class` not followed by a space: `class_name`, `struct{`
    }
    loop {
        let start = pos;
        if start >= bytes.len() || !is_ident_start(bytes[start]) {
            break;
        }
        let mut end = ident_end(bytes, start);
        if let Some(group_end) = paren_group_end(bytes, end) {
            end = group_end;
        }
        words.push(start..end);
        pos = skip_blanks(bytes, end);
        if pos == end {
            break; // no space after it: `Name<`, `Name:`, `Name{`, end of text
        }
    }
    // `Name final` ends with the name before `final`.
    let mut names = words.len();
    if names > 0 && bytes.get(words[names - 1].clone()) == Some(b"final".as_slice()) {
        names -= 1;
    }
    if names < 2 {
        return;
    }
    let terminator_ok = match bytes.get(pos) {
        None | Some(b'{' | b'\n' | b'\r') => true,
        Some(b':') => bytes.get(pos + 1) != Some(&b':'),
        _ => false,
    };
    if !terminator_ok {
        return;
    }
    let macros = &words[..names - 1];
    let all_macros = macros.iter().all(|w| {
        let word_end = ident_end(bytes, w.start);
        is_macro_name(&bytes[w.start..word_end])
    });
    let name = &words[names - 1];
    if all_macros && ident_end(bytes, name.start) == name.end {
        blanks.extend(macros.iter().cloned());
    }
}

/// After `namespace` (ending at `at`): `Name MACRO(args)` followed by `{` (on this line or
/// the next) blanks the macro (`namespace std _GLIBCXX_VISIBILITY(default)`).
fn namespace_macro(bytes: &[u8], at: usize, blanks: &mut Vec<Range<usize>>) {
    let name = skip_blanks(bytes, at);
    let name_end = ident_end(bytes, name);
    if name == at || name_end == name {
        return;
    }
    let start = skip_blanks(bytes, name_end);
    let word_end = ident_end(bytes, start);
    if start == name_end || !is_macro_name(&bytes[start..word_end]) {
        return;
    }
    let end = paren_group_end(bytes, word_end).unwrap_or(word_end);
    let mut next = end;
    while next < bytes.len() && bytes[next].is_ascii_whitespace() {
        next += 1;
    }
    if bytes.get(next) == Some(&b'{') {
        blanks.push(start..end);
    }
}

/// Lines that hold only a macro (`BSSL_NAMESPACE_BEGIN`, `DEFINE_LOCK(x)`) between complete
/// statements.
fn line_macros(src: &str, blanks: &mut Vec<Range<usize>>) {
    let bytes = src.as_bytes();
    // Byte range of each line without its line break, and its trimmed text.
    let mut lines: Vec<(usize, &str)> = Vec::new();
    let mut offset = 0;
    for line in src.split_inclusive('\n') {
        lines.push((offset, line.trim_end_matches(['\n', '\r'])));
        offset += line.len();
    }
    // Whether the previous significant line ended a statement, so a new one starts here.
    let mut after_statement = true;
    let mut in_continuation = false;
    for (index, &(start, line)) in lines.iter().enumerate() {
        let trimmed = line.trim();
        let continued = in_continuation;
        in_continuation = trimmed.ends_with('\\');
        if continued {
            // inside a multi-line #define; its last line ends it
            after_statement = !in_continuation;
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with("//") {
            continue;
        }
        if after_statement && !trimmed.starts_with('#') && is_macro_line(trimmed) {
            let next = lines[index + 1..]
                .iter()
                .map(|(_, l)| l.trim())
                .find(|l| !l.is_empty() && !l.starts_with("//"));
            if next.is_none_or(starts_new_statement) {
                let lead = line.len() - line.trim_start().len();
                let code_len = trimmed.find("//").unwrap_or(trimmed.len());
                blanks.push(start + lead..start + lead + code_len);
                continue; // still after a statement
            }
        }
        after_statement = trimmed.ends_with([';', '{', '}'])
            || trimmed.ends_with("*/")
            || trimmed.starts_with('#');
    }
    debug_assert!(blanks.iter().all(|r| r.end <= bytes.len()));
}

/// `FOO`, `FOO(a, b(c))`, `FOO // note`: a macro name, its arguments, nothing else.
fn is_macro_line(trimmed: &str) -> bool {
    let bytes = trimmed.as_bytes();
    let end = ident_end(bytes, 0);
    if !is_macro_name(&bytes[..end]) {
        return false;
    }
    let mut at = skip_blanks(bytes, end);
    if let Some(group_end) = paren_group_end(bytes, at) {
        at = skip_blanks(bytes, group_end);
    }
    at == bytes.len() || bytes[at..].starts_with(b"//")
}

/// Whether a line can start a new declaration or statement (rather than continue the
/// macro line before it as a function header, expression or body).
fn starts_new_statement(trimmed: &str) -> bool {
    let bytes = trimmed.as_bytes();
    let Some(&first) = bytes.first() else {
        return true;
    };
    if first == b'#' || first == b'}' || trimmed.starts_with("/*") {
        return true;
    }
    if !is_ident_start(first) {
        return false; // `{`, `*f()`, `(`, `&`, `::`, an operator
    }
    // `foo(void)` / `foo (void)` / `A::f()`: a function header the macro line belongs to
    let end = ident_end(bytes, 0);
    let after = skip_blanks(bytes, end);
    !(bytes.get(after) == Some(&b'(') || bytes[end..].starts_with(b"::"))
}

#[cfg(test)]
mod tests {
    use super::blank_macros;

    fn blanked(src: &str) -> String {
        blank_macros(src).unwrap_or_else(|| src.to_owned())
    }

    #[test]
    fn export_macros_before_a_class_name_are_blanked() {
        assert_eq!(
            blanked("class V8_EXPORT Date : public Object {"),
            "class           Date : public Object {"
        );
        assert_eq!(
            blanked("  class V8_EXPORT V8_NODISCARD Scope {"),
            "  class                        Scope {"
        );
        assert_eq!(
            blanked("struct API(x) Params final\n"),
            "struct        Params final\n"
        );
        // declarations and uses keep their words
        for kept in [
            "struct FOO bar;",
            "struct FOO *p = q;",
            "class A::B {",
            "struct S s = {",
            "enum class E : int {",
        ] {
            assert_eq!(blank_macros(kept), None, "{kept}");
        }
    }

    #[test]
    fn a_macro_after_a_namespace_name_is_blanked() {
        assert_eq!(
            blanked("namespace std _GLIBCXX_VISIBILITY(default)\n{\n"),
            "namespace std                             \n{\n"
        );
        assert_eq!(blank_macros("namespace a { int FOO; }"), None);
    }

    #[test]
    fn macros_between_parameters_and_body_are_blanked() {
        assert_eq!(
            blanked("  begin() const _GLIBCXX_NOEXCEPT\n  { return b; }"),
            "  begin() const                  \n  { return b; }"
        );
        assert_eq!(
            blanked("void f() OVERRIDE_IF(x) {}"),
            "void f()                {}"
        );
        // a cast of a constant, a declaration, a call argument stay
        for kept in [
            "x = (int) MAX_SIZE;",
            "void f() NOEXCEPT;",
            "g(a) ? FOO : b;",
            "INSTANTIATE(A, B)\nTEST_P(A, Works) {",
        ] {
            assert_eq!(blank_macros(kept), None, "{kept}");
        }
    }

    #[test]
    fn macros_before_keywords_are_blanked() {
        assert_eq!(
            blanked("static SQLITE_WSD struct Mem0Global {"),
            "static            struct Mem0Global {"
        );
        assert_eq!(
            blanked("  V8_INLINE static int Cast(int v);"),
            "            static int Cast(int v);"
        );
        assert_eq!(blanked("V8_INLINE ~Scope() {}"), "          ~Scope() {}");
        // directives keep their words, also on continued lines
        assert_eq!(blank_macros("#define V8_INLINE inline\n"), None);
        assert_eq!(blank_macros("# define X \\\n  FOO static\n"), None);
        // a type before `const` or a name stays
        assert_eq!(blank_macros("SSL_CIPHER const *c = f();"), None);
        assert_eq!(blank_macros("static SSL_CIPHER kCiphers[] = {};"), None);
    }

    #[test]
    fn macro_lines_between_statements_are_blanked() {
        let src = "#include \"a.h\"\n\nBSSL_NAMESPACE_BEGIN\n\nint f(void);\nDEFINE_LOCK(x) // note\nint g;\n";
        let out = blanked(src);
        assert_eq!(out.len(), src.len());
        assert_eq!(
            out,
            "#include \"a.h\"\n\n                    \n\nint f(void);\n               // note\nint g;\n"
        );
    }

    #[test]
    fn macro_lines_that_continue_something_stay() {
        for kept in [
            // a return type on its own line
            "}\nBOOL\nfoo(void) {\n",
            // a macro defining a function header
            "}\nDEFINE_METHOD(EVP_MD, md5)\n{\n",
            // part of an expression
            "x = a +\n    B\n    ;\n",
            // inside a multi-line #define
            "#define X \\\n  FOO\n",
        ] {
            assert_eq!(blank_macros(kept), None, "{kept:?}");
        }
    }
}
