//! Splitting a migration file into statements, one per entry of a request (D1 and the local
//! transport refuse a statement text holding more than one statement).
//!
//! A small tokenizer with SQLite's rules: `'strings'` (`''` inside), `"identifiers"`,
//! `` `identifiers` `` and `[identifiers]` never end a statement, nor do `-- comments` and
//! `/* comments */`. A `CREATE [TEMP|TEMPORARY] TRIGGER` statement holds `;` in its
//! `BEGIN ... END` body: it ends only at the `;` after an `END` that itself follows a `;` (the
//! rule of SQLite's own `sqlite3_complete`, so `CASE ... END` inside the body does not end it).
//! Text that holds only whitespace and comments is not a statement.

/// One statement of a file: its SQL text, without the leading comments and whitespace and
/// without its closing `;`.
pub(crate) fn split_statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lexer = Lexer { sql, pos: 0 };
    // Start of the current statement's first token, when one was seen.
    let mut start: Option<usize> = None;
    // Significant words seen at the start of the statement (to spot CREATE ... TRIGGER).
    let mut head: Vec<String> = Vec::new();
    let mut in_trigger = false;
    // In a trigger: the last two significant tokens (`;` then `END` closes the body).
    let mut last_semi = false;
    let mut end_after_semi = false;
    while let Some((token, at)) = lexer.next_token() {
        match token {
            Token::Space => continue,
            Token::Semi => {
                let Some(s) = start else {
                    continue; // an empty statement (`;;`)
                };
                if in_trigger && !end_after_semi {
                    last_semi = true;
                    end_after_semi = false;
                    continue;
                }
                out.push(sql[s..at].trim_end().to_string());
                start = None;
                head.clear();
                in_trigger = false;
                last_semi = false;
                end_after_semi = false;
            }
            Token::Word(word) => {
                if start.is_none() {
                    start = Some(at);
                }
                if in_trigger {
                    end_after_semi = last_semi && word.eq_ignore_ascii_case("END");
                    last_semi = false;
                    continue;
                }
                if head.len() < 4 {
                    head.push(word.to_ascii_uppercase());
                    in_trigger = is_create_trigger(&head);
                }
            }
            Token::Other => {
                if start.is_none() {
                    start = Some(at);
                }
                if head.len() < 4 {
                    // Anything but a word before TRIGGER means it is not a trigger.
                    head.push(String::new());
                }
                last_semi = false;
                end_after_semi = false;
            }
        }
    }
    if let Some(s) = start {
        let rest = sql[s..].trim_end();
        if !rest.is_empty() {
            out.push(rest.to_string());
        }
    }
    out
}

/// `CREATE TRIGGER`, `CREATE TEMP TRIGGER`, `CREATE TEMPORARY TRIGGER` (also after `EXPLAIN`).
fn is_create_trigger(head: &[String]) -> bool {
    let words: Vec<&str> = head.iter().map(String::as_str).collect();
    let words = match words.as_slice() {
        ["EXPLAIN", rest @ ..] => rest,
        all => all,
    };
    matches!(
        words,
        ["CREATE", "TRIGGER", ..] | ["CREATE", "TEMP" | "TEMPORARY", "TRIGGER", ..]
    )
}

enum Token<'a> {
    /// Whitespace or a comment.
    Space,
    /// `;`
    Semi,
    /// A bare word (keyword or identifier).
    Word(&'a str),
    /// Anything else: a quoted string or identifier, a number, an operator.
    Other,
}

struct Lexer<'a> {
    sql: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    /// The next token and its start offset.
    fn next_token(&mut self) -> Option<(Token<'a>, usize)> {
        let bytes = self.sql.as_bytes();
        let at = self.pos;
        let &b = bytes.get(at)?;
        let token = match b {
            b';' => {
                self.pos += 1;
                Token::Semi
            }
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => {
                self.pos += 1;
                Token::Space
            }
            b'-' if bytes.get(at + 1) == Some(&b'-') => {
                self.pos = self.sql[at..]
                    .find('\n')
                    .map_or(bytes.len(), |i| at + i + 1);
                Token::Space
            }
            b'/' if bytes.get(at + 1) == Some(&b'*') => {
                self.pos = self.sql[at + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |i| at + 2 + i + 2);
                Token::Space
            }
            b'\'' | b'"' | b'`' => {
                self.skip_quoted(b, b);
                Token::Other
            }
            b'[' => {
                self.skip_quoted(b'[', b']');
                Token::Other
            }
            _ if is_word_byte(b) => {
                let end = bytes[at..]
                    .iter()
                    .position(|&c| !is_word_byte(c))
                    .map_or(bytes.len(), |i| at + i);
                self.pos = end;
                Token::Word(&self.sql[at..end])
            }
            _ => {
                // One character (operators, punctuation); keep UTF-8 boundaries.
                self.pos = self.sql[at..]
                    .chars()
                    .next()
                    .map_or(bytes.len(), |c| at + c.len_utf8());
                Token::Other
            }
        };
        Some((token, at))
    }

    /// Skips a quoted token opened by `open` at `self.pos`; `close` doubled is an escaped
    /// quote (for `'`, `"` and `` ` ``). An unclosed quote runs to the end of the text.
    fn skip_quoted(&mut self, open: u8, close: u8) {
        let bytes = self.sql.as_bytes();
        let mut i = self.pos + 1;
        while i < bytes.len() {
            if bytes[i] == close {
                if open != b'[' && bytes.get(i + 1) == Some(&close) {
                    i += 2;
                    continue;
                }
                self.pos = i + 1;
                return;
            }
            i += 1;
        }
        self.pos = bytes.len();
    }
}

/// SQLite's identifier characters: ASCII letters, digits, `_`, `$`, and every non-ASCII byte.
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

#[cfg(test)]
mod tests {
    use super::split_statements;

    #[test]
    fn splits_on_semicolons_outside_strings_identifiers_and_comments() {
        let sql = "-- Migration number: 0001 \t 2026-01-01T00:00:00.000Z\n\
                   CREATE TABLE \"a;b\" (x TEXT DEFAULT 'it''s; fine', [y;z] INTEGER, `w;` REAL);\n\
                   /* a comment; with a semicolon */\n\
                   INSERT INTO \"a;b\" (x) VALUES ('--not a comment;'); -- trailing; comment\n\
                   ;;\n\
                   SELECT 1 /* ; */ + 2\n";
        assert_eq!(
            split_statements(sql),
            vec![
                "CREATE TABLE \"a;b\" (x TEXT DEFAULT 'it''s; fine', [y;z] INTEGER, `w;` REAL)"
                    .to_string(),
                "INSERT INTO \"a;b\" (x) VALUES ('--not a comment;')".to_string(),
                "SELECT 1 /* ; */ + 2".to_string(),
            ]
        );
    }

    #[test]
    fn a_trigger_body_stays_in_one_statement() {
        let trigger = "CREATE TEMP TRIGGER IF NOT EXISTS log_it AFTER INSERT ON t BEGIN\n  \
                       INSERT INTO log (v) VALUES (CASE WHEN new.x > 0 THEN 'pos;' ELSE 'neg' END);\n  \
                       UPDATE t SET y = 1 WHERE rowid = new.rowid;\nEND";
        let sql = format!("CREATE TABLE t (x INTEGER, y INTEGER);\n{trigger};\nSELECT 2;");
        assert_eq!(
            split_statements(&sql),
            vec![
                "CREATE TABLE t (x INTEGER, y INTEGER)".to_string(),
                trigger.to_string(),
                "SELECT 2".to_string()
            ]
        );
        // Lower case, no final semicolon, comments between END and `;`.
        let sql = "create trigger t1 after delete on t begin delete from u; end -- done\n;";
        assert_eq!(
            split_statements(sql),
            vec![
                "create trigger t1 after delete on t begin delete from u; end -- done".to_string()
            ]
        );
        let sql = "CREATE TRIGGER t2 AFTER DELETE ON t BEGIN DELETE FROM u; END";
        assert_eq!(split_statements(sql), vec![sql.to_string()]);
    }

    #[test]
    fn a_table_named_trigger_is_not_a_trigger() {
        let sql = "CREATE TABLE \"trigger\" (x INTEGER); SELECT 1;";
        assert_eq!(
            split_statements(sql),
            vec![
                "CREATE TABLE \"trigger\" (x INTEGER)".to_string(),
                "SELECT 1".to_string()
            ]
        );
        let sql = "CREATE TABLE trigger_log (x INTEGER); SELECT 1";
        assert_eq!(split_statements(sql).len(), 2);
    }

    #[test]
    fn comments_only_and_empty_text_hold_no_statement() {
        assert!(split_statements("").is_empty());
        assert!(split_statements("-- Migration number: 0001 \t 2026\n").is_empty());
        assert!(split_statements("/* nothing */ ; -- here\n ;").is_empty());
    }

    #[test]
    fn unclosed_quotes_and_comments_run_to_the_end() {
        assert_eq!(
            split_statements("SELECT 'a;b"),
            vec!["SELECT 'a;b".to_string()]
        );
        assert_eq!(
            split_statements("SELECT 1 /* ; "),
            vec!["SELECT 1 /* ;".to_string()]
        );
        assert_eq!(
            split_statements("SELECT 'é;' ; SELECT \"ü\""),
            vec!["SELECT 'é;'".to_string(), "SELECT \"ü\"".to_string()]
        );
    }
}
