//! `rename_all` rules, named as in serde.

use self::RenameRule::*;

/// A case convention for column names (fields) or stored enum names (variants).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RenameRule {
    Lower,
    Upper,
    Pascal,
    Camel,
    Snake,
    ScreamingSnake,
    Kebab,
    ScreamingKebab,
}

/// Every accepted `rename_all` value with its rule.
pub(crate) const RULES: &[(&str, RenameRule)] = &[
    ("lowercase", Lower),
    ("UPPERCASE", Upper),
    ("PascalCase", Pascal),
    ("camelCase", Camel),
    ("snake_case", Snake),
    ("SCREAMING_SNAKE_CASE", ScreamingSnake),
    ("kebab-case", Kebab),
    ("SCREAMING-KEBAB-CASE", ScreamingKebab),
];

impl RenameRule {
    pub(crate) fn from_str(s: &str) -> Option<RenameRule> {
        RULES.iter().find(|(name, _)| *name == s).map(|(_, r)| *r)
    }

    /// Applies the rule to a Rust field name (snake_case by convention).
    /// `lowercase` and `UPPERCASE` only change the letters' case, as in serde.
    pub(crate) fn apply_to_field(self, field: &str) -> String {
        match self {
            Lower => field.to_ascii_lowercase(),
            Upper => field.to_ascii_uppercase(),
            _ => self.join(&words(field)),
        }
    }

    /// Applies the rule to an enum variant name (PascalCase by convention).
    pub(crate) fn apply_to_variant(self, variant: &str) -> String {
        match self {
            Lower => variant.to_ascii_lowercase(),
            Upper => variant.to_ascii_uppercase(),
            _ => self.join(&words(variant)),
        }
    }

    fn join(self, words: &[String]) -> String {
        let cap = |w: &str| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f
                    .to_uppercase()
                    .chain(c.flat_map(char::to_lowercase))
                    .collect(),
                None => String::new(),
            }
        };
        match self {
            Lower | Snake => lower_joined(words, "_"),
            Upper | ScreamingSnake => lower_joined(words, "_").to_uppercase(),
            Kebab => lower_joined(words, "-"),
            ScreamingKebab => lower_joined(words, "-").to_uppercase(),
            Pascal => words.iter().map(|w| cap(w)).collect(),
            Camel => {
                let mut out = String::new();
                for (i, w) in words.iter().enumerate() {
                    if i == 0 {
                        out.push_str(&w.to_lowercase());
                    } else {
                        out.push_str(&cap(w));
                    }
                }
                out
            }
        }
    }
}

fn lower_joined(words: &[String], sep: &str) -> String {
    words
        .iter()
        .map(|w| w.to_lowercase())
        .collect::<Vec<_>>()
        .join(sep)
}

/// Splits an identifier into words: at `_`/`-`, before an upper-case letter that follows a
/// lower-case letter or digit, and before the last capital of an acronym followed by a
/// lower-case letter (`HTTPLog` -> `HTTP`, `Log`).
pub(crate) fn words(ident: &str) -> Vec<String> {
    let ident = ident.strip_prefix("r#").unwrap_or(ident);
    let chars: Vec<char> = ident.chars().collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' || c == '-' {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if c.is_uppercase() && !cur.is_empty() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower) {
                out.push(std::mem::take(&mut cur));
            }
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The default table name: the struct name in snake_case.
pub(crate) fn snake_case(ident: &str) -> String {
    Snake.join(&words(ident))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields() {
        let cases = [
            (Lower, "user_id"),
            (Upper, "USER_ID"),
            (Pascal, "UserId"),
            (Camel, "userId"),
            (Snake, "user_id"),
            (ScreamingSnake, "USER_ID"),
            (Kebab, "user-id"),
            (ScreamingKebab, "USER-ID"),
        ];
        for (rule, want) in cases {
            assert_eq!(rule.apply_to_field("user_id"), want, "{rule:?}");
        }
    }

    #[test]
    fn variants() {
        let cases = [
            (Lower, "inprogress"),
            (Upper, "INPROGRESS"),
            (Pascal, "InProgress"),
            (Camel, "inProgress"),
            (Snake, "in_progress"),
            (ScreamingSnake, "IN_PROGRESS"),
            (Kebab, "in-progress"),
            (ScreamingKebab, "IN-PROGRESS"),
        ];
        for (rule, want) in cases {
            assert_eq!(rule.apply_to_variant("InProgress"), want, "{rule:?}");
        }
    }

    #[test]
    fn table_names() {
        assert_eq!(snake_case("Symbol"), "symbol");
        assert_eq!(snake_case("FileSymbol"), "file_symbol");
        assert_eq!(snake_case("HTTPLog"), "http_log");
        assert_eq!(snake_case("V2Api"), "v2_api");
        assert_eq!(snake_case("already_snake"), "already_snake");
    }

    #[test]
    fn every_rule_name_parses() {
        for (name, rule) in RULES {
            assert_eq!(RenameRule::from_str(name), Some(*rule));
        }
        assert_eq!(RenameRule::from_str("snake"), None);
    }
}
