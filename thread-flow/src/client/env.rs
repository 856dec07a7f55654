//! Choosing a database from the environment: Cloudflare when credentials are set, else the
//! embedded local D1 file.

use std::path::PathBuf;

use crate::client::http::{CLOUDFLARE_API_BASE, HttpConfig};
use crate::{Error, Result};

/// Cloudflare account id variable.
pub const ACCOUNT_ID_VAR: &str = "CLOUDFLARE_ACCOUNT_ID";
/// D1 database id variable.
pub const DATABASE_ID_VAR: &str = "D1_DATABASE_ID";
/// API token variable.
pub const API_TOKEN_VAR: &str = "CLOUDFLARE_API_TOKEN";
/// Optional API host override (a local emulator, a proxy).
pub const BASE_URL_VAR: &str = "D1_BASE_URL";
/// Optional path of the local database file.
pub const LOCAL_PATH_VAR: &str = "D1_LOCAL_PATH";
/// The local database file used when nothing else is configured, relative to the current
/// directory.
pub const DEFAULT_LOCAL_PATH: &str = ".thread-flow/local.d1";

/// Which database the environment selects.
///
/// ```
/// use thread_flow::client::DatabaseConfig;
///
/// let vars = [("CLOUDFLARE_ACCOUNT_ID", "acc"), ("D1_DATABASE_ID", "db")];
/// let err = DatabaseConfig::from_vars(|name| {
///     vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
/// })
/// .unwrap_err();
/// assert!(err.to_string().contains("CLOUDFLARE_API_TOKEN"));
/// ```
#[derive(Debug, Clone)]
pub enum DatabaseConfig {
    /// The embedded local D1 in this SQLite file.
    Local {
        /// Database file (created with its folder if missing).
        path: PathBuf,
    },
    /// Cloudflare D1 (or a compatible endpoint) over HTTP.
    Http(Box<HttpConfig>),
}

impl DatabaseConfig {
    /// Reads the process environment (see [`DatabaseConfig::from_vars`]).
    pub fn from_env() -> Result<DatabaseConfig> {
        DatabaseConfig::from_vars(|name| std::env::var(name).ok())
    }

    /// Chooses from variables given by `lookup` (empty values count as unset):
    ///
    /// - `CLOUDFLARE_ACCOUNT_ID`, `D1_DATABASE_ID` and `CLOUDFLARE_API_TOKEN` all set:
    ///   Cloudflare D1 over HTTP, at `D1_BASE_URL` when set (which must be `https://`, or
    ///   `http://` to a loopback host only: [`Error::Config`] otherwise);
    /// - none of them (nor `D1_BASE_URL`) set: the local file `D1_LOCAL_PATH`, or
    ///   `.thread-flow/local.d1` under the current directory;
    /// - some set: [`Error::Config`] naming the missing variables.
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<DatabaseConfig> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let account = get(ACCOUNT_ID_VAR);
        let database = get(DATABASE_ID_VAR);
        let token = get(API_TOKEN_VAR);
        let base_url = get(BASE_URL_VAR);
        match (account, database, token) {
            (Some(account), Some(database), Some(token)) => {
                if let Some(url) = &base_url {
                    // A plain-http URL to another machine would carry the token in clear
                    // text: refuse it here, before anything is built or sent.
                    crate::client::http::checked_base_url(url).map_err(|e| match e {
                        Error::Config(m) => Error::Config(format!("{BASE_URL_VAR}: {m}")),
                        other => other,
                    })?;
                }
                Ok(DatabaseConfig::Http(Box::new(HttpConfig::new(
                    base_url.unwrap_or_else(|| CLOUDFLARE_API_BASE.to_owned()),
                    account,
                    database,
                    token,
                ))))
            }
            (None, None, None) if base_url.is_none() => Ok(DatabaseConfig::Local {
                path: get(LOCAL_PATH_VAR)
                    .map_or_else(|| PathBuf::from(DEFAULT_LOCAL_PATH), PathBuf::from),
            }),
            (account, database, token) => {
                let missing: Vec<&str> = [
                    (ACCOUNT_ID_VAR, account.is_none()),
                    (DATABASE_ID_VAR, database.is_none()),
                    (API_TOKEN_VAR, token.is_none()),
                ]
                .into_iter()
                .filter_map(|(name, missing)| missing.then_some(name))
                .collect();
                let set: Vec<&str> = [ACCOUNT_ID_VAR, DATABASE_ID_VAR, API_TOKEN_VAR, BASE_URL_VAR]
                    .into_iter()
                    .filter(|name| !missing.contains(name) && get(name).is_some())
                    .collect();
                Err(Error::Config(format!(
                    "Cloudflare D1 is partly configured: {} set but {} missing; set {} to use \
                     Cloudflare D1, or unset {} to use the local database file \
                     ({DEFAULT_LOCAL_PATH} or {LOCAL_PATH_VAR})",
                    set.join(", "),
                    missing.join(", "),
                    if missing.len() == 1 { "it" } else { "them" },
                    set.join(", "),
                )))
            }
        }
    }
}

impl crate::D1Database {
    /// The database the environment selects: Cloudflare D1 when `CLOUDFLARE_ACCOUNT_ID`,
    /// `D1_DATABASE_ID` and `CLOUDFLARE_API_TOKEN` are set (`D1_BASE_URL` overrides the API
    /// host), else the local file `D1_LOCAL_PATH` or `.thread-flow/local.d1`.
    /// Partly set credentials are an [`Error::Config`] naming what is missing.
    pub fn from_env() -> Result<crate::D1Database> {
        crate::D1Database::from_config(DatabaseConfig::from_env()?)
    }

    /// Opens the database a [`DatabaseConfig`] describes (creating a local file's folder).
    pub fn from_config(config: DatabaseConfig) -> Result<crate::D1Database> {
        match config {
            DatabaseConfig::Http(http) => crate::D1Database::http_with(*http),
            DatabaseConfig::Local { path } => crate::D1Database::local(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            owned
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn nothing_set_is_local_default() {
        match DatabaseConfig::from_vars(vars(&[])).unwrap() {
            DatabaseConfig::Local { path } => assert_eq!(path, PathBuf::from(DEFAULT_LOCAL_PATH)),
            other => panic!("{other:?}"),
        }
        match DatabaseConfig::from_vars(vars(&[(LOCAL_PATH_VAR, "/tmp/x.d1"), (API_TOKEN_VAR, "")]))
            .unwrap()
        {
            DatabaseConfig::Local { path } => assert_eq!(path, PathBuf::from("/tmp/x.d1")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn all_set_is_http_with_base_override() {
        let v = vars(&[
            (ACCOUNT_ID_VAR, "acc"),
            (DATABASE_ID_VAR, "db"),
            (API_TOKEN_VAR, "tok-secret"),
            (BASE_URL_VAR, "http://127.0.0.1:9"),
        ]);
        match DatabaseConfig::from_vars(v).unwrap() {
            DatabaseConfig::Http(c) => {
                assert_eq!(c.base_url, "http://127.0.0.1:9");
                assert_eq!(c.account_id, "acc");
                assert_eq!(c.token.expose(), "tok-secret");
            }
            other => panic!("{other:?}"),
        }
        let v = vars(&[
            (ACCOUNT_ID_VAR, "acc"),
            (DATABASE_ID_VAR, "db"),
            (API_TOKEN_VAR, "t"),
        ]);
        match DatabaseConfig::from_vars(v).unwrap() {
            DatabaseConfig::Http(c) => assert_eq!(c.base_url, CLOUDFLARE_API_BASE),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn partial_credentials_name_the_missing_variable() {
        let err = DatabaseConfig::from_vars(vars(&[
            (ACCOUNT_ID_VAR, "acc"),
            (API_TOKEN_VAR, "tok-secret"),
        ]))
        .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::Config(_)));
        assert!(text.contains("D1_DATABASE_ID missing"), "{text}");
        assert!(!text.contains("tok-secret"));
        let err = DatabaseConfig::from_vars(vars(&[(BASE_URL_VAR, "http://x")])).unwrap_err();
        assert!(err.to_string().contains("CLOUDFLARE_API_TOKEN"), "{err}");
    }
}
