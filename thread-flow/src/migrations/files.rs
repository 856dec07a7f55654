//! The migrations folder as wrangler sees it: which files are migrations, their order, the
//! next number, the file name and header wrangler writes.
//!
//! Facts from wrangler's source (`packages/wrangler/src/d1/migrations/{create,helpers}.ts`,
//! 4.85/4.86): every `*.sql` file directly inside the folder is a migration, named by its file
//! name; the next number is the highest leading number (`parseInt` of the text before the
//! first `_`) plus one, zero-padded to 4 digits; the name is that number, `_`, and the message
//! with spaces turned into `_`, then `.sql`; the file starts with
//! `-- Migration number: NNNN \t <ISO date>` and a newline.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{Error, Result};

/// One migration file of the folder.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MigrationFile {
    /// The file name (`0001_create_files.sql`): what wrangler records in `d1_migrations`.
    pub name: String,
    /// Its leading number (`1` for `0001_create_files.sql`), `None` when the name does not
    /// start with one.
    pub number: Option<u64>,
    /// Where it is.
    pub path: PathBuf,
}

impl MigrationFile {
    /// The file's SQL text.
    pub fn read(&self) -> Result<String> {
        std::fs::read_to_string(&self.path).map_err(|e| Error::MigrationFile {
            file: self.name.clone(),
            message: format!("cannot read {}: {e}", self.path.display()),
            error: None,
        })
    }

    /// The statements of the file, in order (`;` inside strings, quoted identifiers, comments and trigger bodies does not end a statement).
    pub fn statements(&self) -> Result<Vec<String>> {
        Ok(super::split::split_statements(&self.read()?))
    }
}

/// The migration files of `folder`, in the order wrangler applies them. A missing folder is
/// an [`Error::Config`].
pub(crate) fn list(folder: &Path) -> Result<Vec<MigrationFile>> {
    let entries = std::fs::read_dir(folder).map_err(|e| {
        Error::Config(format!(
            "cannot read the migrations folder {}: {e}",
            folder.display()
        ))
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| {
            Error::Config(format!(
                "cannot read the migrations folder {}: {e}",
                folder.display()
            ))
        })?;
        let Ok(name) = entry.file_name().into_string() else {
            continue; // not UTF-8: wrangler could not record it either
        };
        if !name.ends_with(".sql") {
            continue;
        }
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        files.push(MigrationFile {
            number: leading_number(&name),
            name,
            path,
        });
    }
    files.sort_by(compare);
    Ok(files)
}

/// Numbered files first, by number; then by name (compared as JavaScript compares strings,
/// by UTF-16 code units, so the order is wrangler's).
fn compare(a: &MigrationFile, b: &MigrationFile) -> Ordering {
    match (a.number, b.number) {
        (Some(x), Some(y)) if x != y => return x.cmp(&y),
        (Some(_), None) => return Ordering::Less,
        (None, Some(_)) => return Ordering::Greater,
        _ => {}
    }
    a.name.encode_utf16().cmp(b.name.encode_utf16())
}

/// JavaScript's `parseInt(name.split("_")[0])` for the non-negative numbers a migration name
/// starts with: leading whitespace skipped, then the digits; `None` without a digit.
pub(crate) fn leading_number(name: &str) -> Option<u64> {
    let first = name.split('_').next().unwrap_or("");
    let first = first.trim_start();
    let first = first.strip_prefix('+').unwrap_or(first);
    let digits: String = first.chars().take_while(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    Some(digits.parse().unwrap_or(u64::MAX))
}

/// The number of the next migration: the highest number in use plus one (1 for an empty
/// folder); unnumbered files are ignored.
pub(crate) fn next_number(files: &[MigrationFile]) -> u64 {
    files
        .iter()
        .filter_map(|f| f.number)
        .max()
        .unwrap_or(0)
        .saturating_add(1)
}

/// The file name wrangler gives migration `number` with `message`: the number zero-padded to
/// 4 digits, `_`, the message with spaces turned into `_`, `.sql`. A message wrangler could
/// not write or record (empty, a path separator, a quote, a control character) is an
/// [`Error::Config`].
pub(crate) fn file_name(number: u64, message: &str) -> Result<String> {
    let message = message.trim();
    if message.is_empty() {
        return Err(Error::Config(
            "a migration needs a message (it becomes the file name, as in `wrangler d1 migrations create DB <message>`)"
                .into(),
        ));
    }
    if let Some(bad) = message
        .chars()
        .find(|c| matches!(c, '/' | '\\' | '\'') || c.is_control())
    {
        return Err(Error::Config(format!(
            "the migration message {message:?} contains {bad:?}, which cannot be part of a migration file name (wrangler writes the file inside the migrations folder and records its name in single quotes); use letters, digits, `_` and spaces"
        )));
    }
    Ok(format!("{number:04}_{}.sql", message.replace(' ', "_")))
}

/// The first line wrangler writes in a new migration file (with its newline):
/// `-- Migration number: 0001 \t 2026-01-31T12:00:00.000Z`.
pub(crate) fn header(number: u64, at: SystemTime) -> String {
    format!("-- Migration number: {number:04} \t {}\n", iso_8601(at))
}

/// JavaScript's `Date.prototype.toISOString()`: UTC, milliseconds, `Z`.
pub(crate) fn iso_8601(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let millis = since.subsec_millis();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Shift to a calendar whose years start on March 1st, so the leap day ends a year.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn numbers_are_read_like_parse_int() {
        assert_eq!(leading_number("0001_init.sql"), Some(1));
        assert_eq!(leading_number("12abc_x.sql"), Some(12));
        assert_eq!(leading_number("0010.sql"), Some(10));
        assert_eq!(leading_number("init.sql"), None);
        assert_eq!(leading_number("_0001.sql"), None);
    }

    #[test]
    fn names_follow_wrangler() {
        assert_eq!(
            file_name(1, "create files").unwrap(),
            "0001_create_files.sql"
        );
        assert_eq!(file_name(12_345, "x").unwrap(), "12345_x.sql");
        for bad in ["", "  ", "a/b", "a\\b", "it's", "a\nb"] {
            assert!(
                matches!(file_name(1, bad), Err(Error::Config(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn header_is_wranglers_with_a_javascript_iso_date() {
        let at = UNIX_EPOCH + Duration::from_millis(1_767_225_600_123); // 2026-01-01
        assert_eq!(
            header(7, at),
            "-- Migration number: 0007 \t 2026-01-01T00:00:00.123Z\n"
        );
        assert_eq!(iso_8601(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        // A leap day and the last second of a year.
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400 + 3661); // 2000-02-29
        assert_eq!(iso_8601(leap), "2000-02-29T01:01:01.000Z");
        let eve = UNIX_EPOCH + Duration::from_secs(1_798_761_599); // 2026-12-31T23:59:59
        assert_eq!(iso_8601(eve), "2026-12-31T23:59:59.000Z");
    }

    #[test]
    fn order_is_by_number_then_name_and_next_is_highest_plus_one() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "10_c.sql",
            "0002_b.sql",
            "9_a.sql",
            "notes.txt",
            "seed.sql",
            "0002_a.sql",
        ] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        std::fs::create_dir(dir.path().join("0099_dir.sql")).unwrap();
        let files = list(dir.path()).unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "0002_a.sql",
                "0002_b.sql",
                "9_a.sql",
                "10_c.sql",
                "seed.sql"
            ]
        );
        assert_eq!(next_number(&files), 11);
        assert_eq!(next_number(&[]), 1);
        assert!(matches!(
            list(&dir.path().join("missing")),
            Err(Error::Config(_))
        ));
    }
}
