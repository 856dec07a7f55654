//! Text from indexed files made safe to print: names, signatures and paths come from the
//! files, so they are never sent raw to a terminal.

use std::borrow::Cow;

/// Whether `c` would act on a terminal instead of showing: C0 and C1 controls (ESC, BEL,
/// backspace, CR, ...), DEL, and the bidirectional overrides that reorder what is shown.
fn is_terminal_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` made safe to print as one field: every terminal control character (tab and newline
/// included) written as a visible `\u{..}` escape.
///
/// ```
/// use thread_flow::code::printable;
/// assert_eq!(printable("a\x1b[2Jb"), "a\\u{1b}[2Jb");
/// ```
pub fn printable(text: &str) -> Cow<'_, str> {
    escape_controls(text, |_| false)
}

/// `text` made safe to print as a message of several lines: like [`printable`], but newlines
/// and tabs stay.
pub fn printable_text(text: &str) -> Cow<'_, str> {
    escape_controls(text, |c| c == '\n' || c == '\t')
}

fn escape_controls(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(|c| is_terminal_control(c) && !keep(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_terminal_control(c) && !keep(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `value` as pretty JSON with every terminal control character escaped as `\uXXXX`: JSON
/// escapes only C0 controls itself, and would leave DEL, C1 controls (`\u{9b}` starts a
/// terminal command) and bidirectional overrides raw. The result is still valid JSON with
/// the same value (those characters can only appear inside strings).
pub fn printable_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    let json = match serde_json::to_string_pretty(value) {
        Ok(json) => json,
        Err(e) => {
            return serde_json::json!({ "error": e.to_string() }).to_string();
        }
    };
    if !json.chars().any(|c| is_terminal_control(c) && c != '\n') {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if is_terminal_control(c) && c != '\n' {
            // Every such character is in the Basic Multilingual Plane: one \uXXXX escape.
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}
