//! Where a database is: [`Connection`], the one description of a D1 database used by
//! [`crate::D1Database::connect`] / [`crate::D1Database::from_env`], by the ReCoco spec
//! (`thread_flow::recoco::D1Spec`) and by the code index's main job.
//!
//! A connection never holds a secret: an HTTP connection names where its API token comes from
//! ([`TokenSource`]), and the token is read when the database is opened. Its identity
//! ([`DatabaseId`]: path, or account + database + API URL) keys the process-wide handle
//! registry and ReCoco's setup state.
//!
//! The environment's rules live here once: the variable names ([`ACCOUNT_ID_VAR`],
//! [`DATABASE_ID_VAR`], [`API_TOKEN_VAR`], [`BASE_URL_VAR`], [`LOCAL_PATH_VAR`]), partial
//! credentials refused with the missing variable named ([`Connection::from_vars`]), and which
//! token may be sent where ([`Connection::check`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::client::http::{CLOUDFLARE_API_BASE, checked_base_url};
use crate::{Error, Result, Secret};

/// Cloudflare account id variable.
pub const ACCOUNT_ID_VAR: &str = "CLOUDFLARE_ACCOUNT_ID";
/// D1 database id variable.
pub const DATABASE_ID_VAR: &str = "D1_DATABASE_ID";
/// API token variable (also the token source of a connection that names none).
pub const API_TOKEN_VAR: &str = "CLOUDFLARE_API_TOKEN";
/// Optional API host override (a local emulator, a proxy): the operator's own D1 endpoint.
pub const BASE_URL_VAR: &str = "D1_BASE_URL";
/// Optional path of the local database file.
pub const LOCAL_PATH_VAR: &str = "D1_LOCAL_PATH";
/// The local database file used when nothing else is configured, relative to the current
/// directory.
pub const DEFAULT_LOCAL_PATH: &str = ".thread-flow/local.d1";

/// Cloudflare's API host.
const CLOUDFLARE_HOST: &str = "api.cloudflare.com";

/// Where the D1 database is. Never holds a secret; serializes as `{"local": path}`,
/// `{"cloudflare": {"account_id", "database_id", "token"?}}` or
/// `{"http": {"base_url", "account_id", "database_id", "token"?}}`.
///
/// ```
/// use thread_flow::Connection;
///
/// let vars = [("CLOUDFLARE_ACCOUNT_ID", "acc"), ("D1_DATABASE_ID", "db")];
/// let err = Connection::from_vars(|name| {
///     vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
/// })
/// .unwrap_err();
/// assert!(err.to_string().contains("CLOUDFLARE_API_TOKEN missing"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Connection {
    /// The embedded local D1: a SQLite file at this path (created if missing).
    Local(PathBuf),
    /// Cloudflare D1 over its HTTP API.
    Cloudflare {
        /// Cloudflare account id.
        account_id: String,
        /// D1 database id (UUID).
        database_id: String,
        /// Where the API token comes from (default: `CLOUDFLARE_API_TOKEN`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<TokenSource>,
    },
    /// Any D1-compatible HTTP endpoint (a local emulator such as Miniflare, a proxy).
    Http {
        /// Base URL replacing `https://api.cloudflare.com`.
        base_url: String,
        /// Account id used in the request path.
        account_id: String,
        /// Database id used in the request path.
        database_id: String,
        /// Where the API token comes from (default: `CLOUDFLARE_API_TOKEN`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<TokenSource>,
    },
}

impl Connection {
    /// The embedded local D1 file at `path`.
    pub fn local(path: impl Into<PathBuf>) -> Connection {
        Connection::Local(path.into())
    }

    /// Reads the process environment (see [`Connection::from_vars`]).
    pub fn from_env() -> Result<Connection> {
        Connection::from_vars(|name| std::env::var(name).ok())
    }

    /// Chooses from variables given by `lookup` (empty values count as unset):
    ///
    /// - `CLOUDFLARE_ACCOUNT_ID`, `D1_DATABASE_ID` and `CLOUDFLARE_API_TOKEN` all set:
    ///   Cloudflare D1, through `D1_BASE_URL` when that is set (which must be `https://`, or
    ///   `http://` to a loopback host only: [`Error::Config`] otherwise). The connection
    ///   names the token's variable, never its value;
    /// - none of them (nor `D1_BASE_URL`) set: the local file `D1_LOCAL_PATH`, or
    ///   `.thread-flow/local.d1` under the current directory;
    /// - some set: [`Error::Config`] naming the missing variables (never their values).
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<Connection> {
        let get = |name: &str| var(&lookup, name);
        let account = get(ACCOUNT_ID_VAR);
        let database = get(DATABASE_ID_VAR);
        let token = get(API_TOKEN_VAR);
        let base_url = get(BASE_URL_VAR);
        match (account, database, token.is_some()) {
            (Some(account_id), Some(database_id), true) => {
                let Some(base_url) = base_url else {
                    return Ok(Connection::Cloudflare {
                        account_id,
                        database_id,
                        token: None,
                    });
                };
                // A plain-http URL to another machine would carry the token in clear text:
                // refuse it here, before anything is built or sent.
                checked_base_url(&base_url).map_err(|e| match e {
                    Error::Config(m) => Error::Config(format!("{BASE_URL_VAR}: {m}")),
                    other => other,
                })?;
                if base_url.trim_end_matches('/') == CLOUDFLARE_API_BASE {
                    return Ok(Connection::Cloudflare {
                        account_id,
                        database_id,
                        token: None,
                    });
                }
                Ok(Connection::Http {
                    base_url,
                    account_id,
                    database_id,
                    token: None,
                })
            }
            (None, None, false) if base_url.is_none() => Ok(Connection::Local(
                get(LOCAL_PATH_VAR)
                    .map_or_else(|| PathBuf::from(DEFAULT_LOCAL_PATH), PathBuf::from),
            )),
            _ => Err(partial_credentials(&get)),
        }
    }

    /// The database's identity, without any credential (the key of the process-wide handle
    /// registry and of ReCoco's setup state).
    pub fn identity(&self) -> DatabaseId {
        match self {
            Connection::Local(path) => DatabaseId::Local {
                path: absolute(path),
            },
            Connection::Cloudflare {
                account_id,
                database_id,
                ..
            } => DatabaseId::Cloudflare {
                account_id: account_id.clone(),
                database_id: database_id.clone(),
            },
            Connection::Http {
                base_url,
                account_id,
                database_id,
                ..
            } => DatabaseId::Http {
                base_url: base_url.trim_end_matches('/').to_string(),
                account_id: account_id.clone(),
                database_id: database_id.clone(),
            },
        }
    }

    /// Checks that this connection's token may be sent where it points: the base URL is
    /// `https://` (or `http://` to this machine), and a token read from the environment has
    /// an allowed name and only goes to Cloudflare or to the operator's `D1_BASE_URL` (see
    /// `thread_flow::recoco::D1Spec`). The error names the variable or URL.
    pub fn check(&self) -> Result<()> {
        check_token_use(&self.identity(), self.token_source().as_ref())
    }

    /// Where the token comes from (`None` for a local database).
    pub fn token_source(&self) -> Option<TokenSource> {
        match self {
            Connection::Local(_) => None,
            Connection::Cloudflare { token, .. } | Connection::Http { token, .. } => {
                Some(token.clone().unwrap_or_else(TokenSource::default_env))
            }
        }
    }
}

/// A variable from `lookup`, trimmed; empty counts as unset.
pub(crate) fn var(lookup: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The error for Cloudflare credentials set only in part: which variables are set, which are
/// missing (by name; never a value). The one place this error is built.
pub(crate) fn partial_credentials(get: &impl Fn(&str) -> Option<String>) -> Error {
    let missing: Vec<&str> = [ACCOUNT_ID_VAR, DATABASE_ID_VAR, API_TOKEN_VAR]
        .into_iter()
        .filter(|name| get(name).is_none())
        .collect();
    let set: Vec<&str> = [ACCOUNT_ID_VAR, DATABASE_ID_VAR, API_TOKEN_VAR, BASE_URL_VAR]
        .into_iter()
        .filter(|name| get(name).is_some())
        .collect();
    Error::Config(format!(
        "Cloudflare D1 is partly configured: {} set but {} missing; set {} to use Cloudflare \
         D1, or unset {} to use the local database file ({DEFAULT_LOCAL_PATH} or \
         {LOCAL_PATH_VAR})",
        set.join(", "),
        missing.join(", "),
        if missing.len() == 1 { "it" } else { "them" },
        set.join(", "),
    ))
}

/// Checks the token rules of `thread_flow::recoco::D1Spec` for `token` sent to `database`.
pub(crate) fn check_token_use(database: &DatabaseId, token: Option<&TokenSource>) -> Result<()> {
    let destination = match database {
        DatabaseId::Local { .. } => return Ok(()),
        DatabaseId::Cloudflare { .. } => Destination::Cloudflare,
        DatabaseId::Http { base_url, .. } => Destination::of(base_url)?,
    };
    let Some(TokenSource::Env { env }) = token else {
        return Ok(());
    };
    if !allowed_token_env(env) {
        return Err(Error::Config(format!(
            "the D1 spec names the environment variable `{env}` as its API token; only \
             `{API_TOKEN_VAR}`, `*_API_TOKEN` or `D1_*TOKEN` variables may be (so that a spec \
             cannot send any other secret); rename the variable, or register the token in \
             ReCoco's auth registry and name that entry in the connection's `token`"
        )));
    }
    // Another account on this machine can listen on a loopback port too, so a loopback URL
    // gets an environment token only when the operator named it in `D1_BASE_URL`, like any
    // other host.
    match destination {
        Destination::Cloudflare => Ok(()),
        Destination::ThisMachine(base) | Destination::Other(base) => {
            let operator = std::env::var(BASE_URL_VAR)
                .ok()
                .map(|u| normalize_base_url(&u));
            if operator.as_deref() == Some(base.as_str()) {
                Ok(())
            } else {
                Err(Error::Config(format!(
                    "the D1 spec sends the API token from the environment variable `{env}` to \
                     {base}, which is neither Cloudflare's API nor the operator's \
                     `{BASE_URL_VAR}`; set `{BASE_URL_VAR}={base}` to allow it, or register the \
                     token in ReCoco's auth registry and name that entry in the connection's \
                     `token`"
                )))
            }
        }
    }
}

/// Whether a spec may name environment variable `name` as its token: `CLOUDFLARE_API_TOKEN`,
/// `*_API_TOKEN` or `D1_*TOKEN`, in ASCII capitals, digits and `_`.
fn allowed_token_env(name: &str) -> bool {
    let shape = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    shape
        && (name == API_TOKEN_VAR
            || (name.ends_with("_API_TOKEN") && name.len() > "_API_TOKEN".len())
            || (name.starts_with("D1_") && name.ends_with("TOKEN")))
}

/// Where an HTTP connection sends its requests.
enum Destination {
    /// `https://api.cloudflare.com`.
    Cloudflare,
    /// A loopback address (`localhost`, `127.0.0.0/8`, `::1`; the normalized base URL).
    ThisMachine(String),
    /// Anything else over https (the normalized base URL).
    Other(String),
}

impl Destination {
    fn of(base_url: &str) -> Result<Destination> {
        let base = normalize_base_url(base_url);
        let url = reqwest::Url::parse(&base).map_err(|e| {
            Error::Config(format!("the D1 base URL `{base}` is not a valid URL: {e}"))
        })?;
        let Some(host) = url.host_str() else {
            return Err(Error::Config(format!(
                "the D1 base URL `{base}` has no host"
            )));
        };
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        match url.scheme() {
            "https" if url.host_str() == Some(CLOUDFLARE_HOST) && url.port().is_none() => {
                Ok(Destination::Cloudflare)
            }
            "https" | "http" if loopback => Ok(Destination::ThisMachine(base)),
            "https" => Ok(Destination::Other(base)),
            "http" => Err(Error::Config(format!(
                "the D1 base URL `{base}` uses plain http to another machine, which would send \
                 the API token in clear text; use https:// (plain http is allowed only to \
                 localhost, 127.0.0.1 or [::1])"
            ))),
            other => Err(Error::Config(format!(
                "the D1 base URL `{base}` has scheme `{other}`; use https://"
            ))),
        }
    }
}

/// A base URL without surrounding spaces, trailing `/` or `/client/v4`.
fn normalize_base_url(url: &str) -> String {
    let base = url.trim().trim_end_matches('/');
    base.strip_suffix("/client/v4")
        .unwrap_or(base)
        .trim_end_matches('/')
        .to_string()
}

fn absolute(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

/// Where an API token is read from. Never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TokenSource {
    /// An environment variable: `{"env": "NAME"}`.
    Env {
        /// Variable name.
        env: String,
    },
    /// A ReCoco auth-registry entry, as ReCoco writes references: `{"key": "name"}`.
    Auth {
        /// Auth entry key.
        key: String,
    },
    /// A ReCoco auth-registry entry key given as a plain string.
    AuthKey(String),
}

impl TokenSource {
    /// The source of a connection that names none: the `CLOUDFLARE_API_TOKEN` variable.
    pub fn default_env() -> TokenSource {
        TokenSource::Env {
            env: API_TOKEN_VAR.into(),
        }
    }

    /// Reads an environment token. `None` for an auth-registry entry.
    fn resolve_env(&self) -> Option<Result<Secret>> {
        match self {
            TokenSource::Env { env } => Some(match std::env::var(env) {
                Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v)),
                _ => Err(Error::Config(format!(
                    "the D1 database needs an API token: set the environment variable `{env}`, \
                     or name a ReCoco auth entry in the connection's `token`"
                ))),
            }),
            TokenSource::Auth { .. } | TokenSource::AuthKey(_) => None,
        }
    }

    /// Reads the token the way [`crate::D1Database::connect`] does: from the environment, or
    /// (feature `recoco`) from ReCoco's process-global auth registry.
    pub(crate) fn resolve_default(&self) -> Result<Secret> {
        if let Some(env) = self.resolve_env() {
            return env;
        }
        #[cfg(feature = "recoco")]
        {
            self.resolve(recoco_core::lib_context::get_auth_registry())
        }
        #[cfg(not(feature = "recoco"))]
        {
            Err(Error::Config(format!(
                "the D1 API token is the ReCoco auth entry `{self}`, but thread-flow was built \
                 without the `recoco` feature; name an environment variable instead \
                 ({{\"env\": \"{API_TOKEN_VAR}\"}})"
            )))
        }
    }

    /// Reads the token: from the environment, or from ReCoco's auth registry (an entry whose
    /// value is the token string, or an object with a `token` field).
    #[cfg(feature = "recoco")]
    pub fn resolve(&self, auth_registry: &recoco_core::setup::AuthRegistry) -> Result<Secret> {
        if let Some(env) = self.resolve_env() {
            return env;
        }
        let (TokenSource::Auth { key } | TokenSource::AuthKey(key)) = self else {
            return Err(Error::Config("internal: not an auth entry".into()));
        };
        let entry =
            recoco_core::base::spec::AuthEntryReference::<serde_json::Value>::new(key.clone());
        let value = auth_registry.get(&entry).map_err(|_| {
            Error::Config(format!(
                "ReCoco auth entry `{key}` (the D1 API token) is not registered; add it with \
                 `get_auth_registry().add(\"{key}\", json!(\"<token>\"))` before building the flow"
            ))
        })?;
        let shape = || {
            Error::Config(format!(
                "ReCoco auth entry `{key}` must be a string or {{\"token\": string}}"
            ))
        };
        match value {
            serde_json::Value::String(s) => Ok(Secret::new(s)),
            serde_json::Value::Object(mut m) => match m.remove("token") {
                Some(serde_json::Value::String(s)) => Ok(Secret::new(s)),
                _ => Err(shape()),
            },
            _ => Err(shape()),
        }
    }
}

impl std::fmt::Display for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSource::Env { env } => write!(f, "env:{env}"),
            TokenSource::Auth { key } | TokenSource::AuthKey(key) => write!(f, "auth:{key}"),
        }
    }
}

/// A database's identity: where it is, never how to authenticate.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatabaseId {
    /// Local file (absolute path).
    Local {
        /// Absolute path of the SQLite file.
        path: String,
    },
    /// Cloudflare D1.
    Cloudflare {
        /// Account id.
        account_id: String,
        /// Database id.
        database_id: String,
    },
    /// A D1-compatible endpoint.
    Http {
        /// Base URL (no trailing slash).
        base_url: String,
        /// Account id.
        account_id: String,
        /// Database id.
        database_id: String,
    },
}

impl std::fmt::Display for DatabaseId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseId::Local { path } => write!(f, "local D1 {path}"),
            DatabaseId::Cloudflare {
                account_id,
                database_id,
            } => {
                write!(f, "Cloudflare D1 {database_id} (account {account_id})")
            }
            DatabaseId::Http {
                base_url,
                database_id,
                ..
            } => {
                write!(f, "D1 {database_id} at {base_url}")
            }
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
        assert_eq!(
            Connection::from_vars(vars(&[])).unwrap(),
            Connection::local(DEFAULT_LOCAL_PATH)
        );
        assert_eq!(
            Connection::from_vars(vars(&[(LOCAL_PATH_VAR, "/tmp/x.d1"), (API_TOKEN_VAR, "")]))
                .unwrap(),
            Connection::local("/tmp/x.d1")
        );
    }

    #[test]
    fn all_set_is_http_with_base_override_and_no_token() {
        let v = vars(&[
            (ACCOUNT_ID_VAR, "acc"),
            (DATABASE_ID_VAR, "db"),
            (API_TOKEN_VAR, "tok-secret"),
            (BASE_URL_VAR, "http://127.0.0.1:9"),
        ]);
        let c = Connection::from_vars(v).unwrap();
        assert_eq!(
            c,
            Connection::Http {
                base_url: "http://127.0.0.1:9".into(),
                account_id: "acc".into(),
                database_id: "db".into(),
                token: None,
            }
        );
        assert_eq!(c.token_source(), Some(TokenSource::default_env()));
        assert!(!serde_json::to_string(&c).unwrap().contains("tok-secret"));
        let v = vars(&[
            (ACCOUNT_ID_VAR, "acc"),
            (DATABASE_ID_VAR, "db"),
            (API_TOKEN_VAR, "t"),
        ]);
        assert!(matches!(
            Connection::from_vars(v).unwrap(),
            Connection::Cloudflare { .. }
        ));
    }

    #[test]
    fn partial_credentials_name_the_missing_variable() {
        let err = Connection::from_vars(vars(&[
            (ACCOUNT_ID_VAR, "acc"),
            (API_TOKEN_VAR, "tok-secret"),
        ]))
        .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::Config(_)));
        assert!(text.contains("D1_DATABASE_ID missing"), "{text}");
        assert!(!text.contains("tok-secret"));
        let err = Connection::from_vars(vars(&[(BASE_URL_VAR, "http://x")])).unwrap_err();
        assert!(err.to_string().contains("CLOUDFLARE_API_TOKEN"), "{err}");
        let err = Connection::from_vars(vars(&[
            (ACCOUNT_ID_VAR, "acc"),
            (DATABASE_ID_VAR, "db"),
            (API_TOKEN_VAR, "tok-secret"),
            (BASE_URL_VAR, "http://d1.example.com"),
        ]))
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("configuration error: D1_BASE_URL: "),
            "{err}"
        );
    }

    #[test]
    fn connection_json_shapes() {
        let c: Connection = serde_json::from_value(serde_json::json!({"local": "a.d1"}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c, Connection::Local("a.d1".into()));
        let c: Connection = serde_json::from_value(serde_json::json!({
            "cloudflare": {"account_id": "acc", "database_id": "db", "token": "cf"}
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.token_source(), Some(TokenSource::AuthKey("cf".into())));
        let c: Connection = serde_json::from_value(serde_json::json!({
            "http": {"base_url": "http://127.0.0.1:1/", "account_id": "a", "database_id": "d",
                     "token": {"key": "k"}}
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.token_source(),
            Some(TokenSource::Auth { key: "k".into() })
        );
        assert_eq!(
            c.identity(),
            DatabaseId::Http {
                base_url: "http://127.0.0.1:1".into(),
                account_id: "a".into(),
                database_id: "d".into()
            }
        );
        let c: Connection = serde_json::from_value(serde_json::json!({
            "cloudflare": {"account_id": "acc", "database_id": "db"}
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.token_source(), Some(TokenSource::default_env()));
        // Round trip: what serializes parses back to the same connection.
        for c in [
            Connection::local("x/y.d1"),
            c,
            Connection::Http {
                base_url: "https://d1.example.com".into(),
                account_id: "a".into(),
                database_id: "d".into(),
                token: Some(TokenSource::Env {
                    env: "MY_API_TOKEN".into(),
                }),
            },
        ] {
            let json = serde_json::to_value(&c).unwrap_or_default();
            let back: Connection = serde_json::from_value(json).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(back, c);
        }
    }

    #[test]
    fn token_variables_are_allowlisted() {
        for ok in [
            "CLOUDFLARE_API_TOKEN",
            "MY_D1_API_TOKEN",
            "D1_TOKEN",
            "D1_WRITER_TOKEN",
        ] {
            assert!(allowed_token_env(ok), "{ok}");
        }
        for refused in [
            "HOME",
            "AWS_SECRET_ACCESS_KEY",
            "GITHUB_TOKEN",
            "DATABASE_URL",
            "_API_TOKEN",
            "my_api_token",
            "X_API_TOKEN\n",
            "",
        ] {
            assert!(!allowed_token_env(refused), "{refused}");
        }
    }

    #[test]
    fn token_destinations() {
        let http = |base_url: &str| DatabaseId::Http {
            base_url: base_url.into(),
            account_id: "a".into(),
            database_id: "d".into(),
        };
        let env = |name: &str| TokenSource::Env { env: name.into() };
        let auth = TokenSource::AuthKey("k".into());
        let default = TokenSource::default_env();
        let cloudflare = DatabaseId::Cloudflare {
            account_id: "a".into(),
            database_id: "d".into(),
        };
        assert!(check_token_use(&cloudflare, Some(&default)).is_ok());
        assert!(check_token_use(&cloudflare, Some(&env("PATH"))).is_err());
        assert!(check_token_use(&http("https://api.cloudflare.com"), Some(&default)).is_ok());
        // Loopback: another account may listen there, so an env token needs the operator's
        // D1_BASE_URL (unset here); a registered token may go.
        for local in [
            "http://127.0.0.1:8787",
            "http://localhost:1/",
            "http://[::1]:8787/client/v4",
        ] {
            assert!(
                check_token_use(&http(local), Some(&default)).is_err(),
                "{local}"
            );
            assert!(
                check_token_use(&http(local), Some(&auth)).is_ok(),
                "{local}"
            );
        }
        // An env token to another https host needs the operator's D1_BASE_URL (unset here).
        let err = check_token_use(&http("https://d1.example.com"), Some(&default));
        assert!(
            matches!(&err, Err(Error::Config(m)) if m.contains("CLOUDFLARE_API_TOKEN") && m.contains("d1.example.com")),
            "{err:?}"
        );
        assert!(check_token_use(&http("https://d1.example.com"), Some(&auth)).is_ok());
        assert!(check_token_use(&http("https://api.cloudflare.com:8443"), Some(&default)).is_err());
        for bad in ["http://d1.example.com", "ftp://127.0.0.1", "not a url"] {
            assert!(
                matches!(
                    check_token_use(&http(bad), Some(&auth)),
                    Err(Error::Config(_))
                ),
                "{bad}"
            );
        }
        let local = DatabaseId::Local { path: "/x".into() };
        assert!(check_token_use(&local, Some(&env("HOME"))).is_ok());
    }
}
