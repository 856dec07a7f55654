//! The serde side of the target: the export spec, the setup key and the setup state.
//!
//! The spec's JSON shape, and the rules for tables this flow did not create (`existing`) and
//! for specs arriving as data (SQL fragments, token sources, base URLs), are on [`D1Spec`].

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result, Secret, TableSchema};

/// Environment variable read when a connection names no token.
pub const DEFAULT_TOKEN_ENV: &str = "CLOUDFLARE_API_TOKEN";

/// The environment variable naming the operator's own D1 endpoint (see [`Connection::from_env`]).
const BASE_URL_ENV: &str = "D1_BASE_URL";

/// Cloudflare's API host.
const CLOUDFLARE_HOST: &str = "api.cloudflare.com";

/// What setup does with a table of the export's name that this flow has no record of creating.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExistingTable {
    /// Use it only if it already matches the export's schema exactly; otherwise fail setup
    /// with [`Error::MigrationRefused`] and change nothing. The default.
    #[default]
    Refuse,
    /// Take it over and migrate it to the export's schema (columns outside the schema are
    /// dropped with their data). Never dropped and recreated.
    Adopt,
}

impl ExistingTable {
    /// Whether this is the default ([`ExistingTable::Refuse`]).
    pub fn is_refuse(&self) -> bool {
        *self == ExistingTable::Refuse
    }

    /// The spec's spelling: `"refuse"` or `"adopt"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ExistingTable::Refuse => "refuse",
            ExistingTable::Adopt => "adopt",
        }
    }
}

/// Where the D1 database is.
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

    /// Cloudflare D1 when `CLOUDFLARE_ACCOUNT_ID`, `D1_DATABASE_ID` and `CLOUDFLARE_API_TOKEN`
    /// are all set (through `D1_BASE_URL` when that is set too), else the local file
    /// `default_local`. The token stays in the environment: the spec only names the variable.
    pub fn from_env(default_local: impl Into<PathBuf>) -> Connection {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        match (
            var("CLOUDFLARE_ACCOUNT_ID"),
            var("D1_DATABASE_ID"),
            var(DEFAULT_TOKEN_ENV),
        ) {
            (Some(account_id), Some(database_id), Some(_)) => match var("D1_BASE_URL") {
                Some(base_url) => Connection::Http {
                    base_url,
                    account_id,
                    database_id,
                    token: None,
                },
                None => Connection::Cloudflare {
                    account_id,
                    database_id,
                    token: None,
                },
            },
            _ => Connection::Local(default_local.into()),
        }
    }

    /// The database's identity, without any credential (part of the setup key).
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

    /// Checks that this connection may be used as a spec asks: the base URL is `https://` (or
    /// `http://` to this machine), and a token read from the environment has an allowed name
    /// and only goes to Cloudflare or to the operator's `D1_BASE_URL`
    /// (see [`D1Spec`]). The error names the variable or URL.
    pub fn check(&self) -> Result<()> {
        check_token_use(&self.identity(), self.token_source().as_ref())
    }

    /// Where the token comes from (`None` for a local database).
    pub fn token_source(&self) -> Option<TokenSource> {
        match self {
            Connection::Local(_) => None,
            Connection::Cloudflare { token, .. } | Connection::Http { token, .. } => {
                Some(token.clone().unwrap_or_else(|| TokenSource::Env {
                    env: DEFAULT_TOKEN_ENV.into(),
                }))
            }
        }
    }
}

/// Checks the token rules of [`D1Spec`] for `token` sent to `database`.
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
             `{DEFAULT_TOKEN_ENV}`, `*_API_TOKEN` or `D1_*TOKEN` variables may be (so that a spec \
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
            let operator = std::env::var(BASE_URL_ENV)
                .ok()
                .map(|u| normalize_base_url(&u));
            if operator.as_deref() == Some(base.as_str()) {
                Ok(())
            } else {
                Err(Error::Config(format!(
                    "the D1 spec sends the API token from the environment variable `{env}` to \
                     {base}, which is neither Cloudflare's API nor the operator's \
                     `{BASE_URL_ENV}`; set `{BASE_URL_ENV}={base}` to allow it, or register the \
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
        && (name == DEFAULT_TOKEN_ENV
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
    /// Reads the token: from the environment, or from ReCoco's auth registry (an entry whose
    /// value is the token string, or an object with a `token` field).
    pub fn resolve(&self, auth_registry: &recoco_core::setup::AuthRegistry) -> Result<Secret> {
        match self {
            TokenSource::Env { env } => match std::env::var(env) {
                Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v)),
                _ => Err(Error::Config(format!(
                    "the D1 target needs an API token: set the environment variable `{env}`, or \
                     name a ReCoco auth entry in the connection's `token`"
                ))),
            },
            TokenSource::Auth { key } | TokenSource::AuthKey(key) => {
                let entry = recoco_core::base::spec::AuthEntryReference::<serde_json::Value>::new(
                    key.clone(),
                );
                let value = auth_registry.get(&entry).map_err(|_| {
                    Error::Config(format!(
                        "ReCoco auth entry `{key}` (the D1 API token) is not registered; add it \
                         with `get_auth_registry().add(\"{key}\", json!(\"<token>\"))` before \
                         building the flow"
                    ))
                })?;
                match value {
                    serde_json::Value::String(s) => Ok(Secret::new(s)),
                    serde_json::Value::Object(mut m) => match m.remove("token") {
                        Some(serde_json::Value::String(s)) => Ok(Secret::new(s)),
                        _ => Err(Error::Config(format!(
                            "ReCoco auth entry `{key}` must be a string or {{\"token\": string}}"
                        ))),
                    },
                    _ => Err(Error::Config(format!(
                        "ReCoco auth entry `{key}` must be a string or {{\"token\": string}}"
                    ))),
                }
            }
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

/// The export spec of target kind `"D1"`.
///
/// Spec JSON (what `FlowBuilder::export` receives for kind `"D1"`):
///
/// ```json
/// {
///   "connection": {"local": "index.d1"},
///   "table": "symbols",
///   "schema": { "name": "symbols", "columns": [...], "primary_key": [...], ... },
///   "row_type": "my_crate::Symbol",
///   "max_request_bytes": 500000,
///   "concurrency": 4,
///   "batch_window_ms": 5,
///   "max_batch_rows": 1000,
///   "existing": "refuse"
/// }
/// ```
///
/// `connection` is one of `{"local": path}`,
/// `{"cloudflare": {"account_id", "database_id", "token"?}}` or
/// `{"http": {"base_url", "account_id", "database_id", "token"?}}`. `token` names where the API
/// token comes from, never the token itself: an auth-registry key (`"my_token"` or
/// `{"key": "my_token"}`), an environment variable (`{"env": "MY_API_TOKEN"}`), or, when omitted,
/// the `CLOUDFLARE_API_TOKEN` environment variable.
///
/// # Tables this flow did not create (`existing`)
///
/// Setup remembers (in ReCoco's setup state) which tables this flow created. When there is no
/// record and a table of the same name already exists in the database:
///
/// - `"existing": "refuse"` (the default): the table is used as it is only when it already
///   matches the export's schema exactly (same columns, types, nullability, defaults, key,
///   indexes, STRICT, WITHOUT ROWID). Otherwise setup fails with
///   [`Error::MigrationRefused`] naming the table and every difference, and changes nothing.
/// - `"existing": "adopt"`: the table is taken over and migrated like one this flow created:
///   columns outside the schema are dropped **with their data**, types are converted, indexes
///   replaced. It is never dropped and recreated, even when its rows collide under a new key.
///
/// Only a table the recorded state says this flow created is ever dropped or recreated.
/// Table names are compared as SQLite does, without regard to ASCII case (`Files` and `files`
/// are one table).
///
/// # Specs arriving as data
///
/// A spec is runtime JSON, so it is checked before anything reaches the database:
///
/// - Every SQL fragment of its `schema` (a column's `default` SQL, an index's `where`) must be
///   one SQL expression with nothing after it, as SQLite's own parser decides (see
///   [`crate::TableSchema::validate`]); otherwise [`Error::InvalidSchema`] names the column or
///   index.
/// - A token read from the environment must be named `CLOUDFLARE_API_TOKEN`, `*_API_TOKEN` or
///   `D1_*TOKEN` (ASCII capitals, digits, `_`): a spec cannot send `HOME`, `AWS_SECRET_ACCESS_KEY`
///   or `DATABASE_URL` anywhere.
/// - An `http` base URL must be `https://`, or `http://` to this machine (`localhost`,
///   `127.0.0.0/8`, `[::1]`).
/// - A token read from the environment is only sent to Cloudflare's API
///   (`https://api.cloudflare.com`) or to the base URL the operator set in `D1_BASE_URL`, even
///   on this machine (another account may listen on a loopback port). To send a token
///   anywhere else, the application registers it in ReCoco's auth registry and the spec names
///   that entry.
///
/// Each rule, when broken, is an [`Error::Config`] naming the variable or URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct D1Spec {
    /// Where the database is.
    pub connection: Connection,
    /// Table name. Default: the schema's name when `schema` is given, else
    /// `{flow}__{export}` with every character outside `[A-Za-z0-9_]` replaced by `_`.
    /// Always quoted in SQL. When it differs from the schema's name, index names made from the
    /// schema's name (`{table}_..`) are renamed with it, so two tables never share an index name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// The table definition from a `#[derive(D1Target)]` struct (`T::schema()`): indexes,
    /// renames, STRICT and WITHOUT ROWID reach the flow. The collector's fields must match its
    /// columns by name and type. Default: one column per collector field, no index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<TableSchema>,
    /// Set by [`crate::export`]: the `#[derive(D1Target)]` struct whose column codecs encode
    /// the collected values, so an enum, newtype or `#[d1(json)]` column is stored exactly as
    /// `D1Table<T>` stores it (the collector sends each value in its column's storage form:
    /// an enum's text, JSON, ...). It names a type registered in this process, so it only
    /// comes from `export::<T>()`; without it the values are stored as ReCoco holds them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_type: Option<String>,
    /// Byte budget per D1 request (default: the runtime's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_request_bytes: Option<usize>,
    /// Requests in flight per database (default: the runtime's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
    /// How long concurrent mutations are gathered into one batch, in milliseconds (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_window_ms: Option<u64>,
    /// A batch is sent early once it holds this many rows (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_batch_rows: Option<usize>,
    /// What setup does with a table of this name that this flow has no record of creating
    /// (default: use it only if it matches exactly, else refuse). See [`D1Spec`].
    #[serde(default, skip_serializing_if = "ExistingTable::is_refuse")]
    pub existing: ExistingTable,
}

impl D1Spec {
    /// A spec for `connection` with every option at its default.
    pub fn new(connection: Connection) -> D1Spec {
        D1Spec {
            connection,
            table: None,
            schema: None,
            row_type: None,
            max_request_bytes: None,
            concurrency: None,
            batch_window_ms: None,
            max_batch_rows: None,
            existing: ExistingTable::Refuse,
        }
    }

    /// The spec as the JSON object `FlowBuilder::export` takes.
    pub fn to_json_object(&self) -> Result<serde_json::Map<String, serde_json::Value>> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(m)) => Ok(m),
            Ok(_) => Err(Error::Config(
                "D1 spec did not serialize to an object".into(),
            )),
            Err(e) => Err(Error::Config(format!("cannot serialize the D1 spec: {e}"))),
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

/// The setup key: which table in which database.
///
/// SQLite compares table names without regard to ASCII case, so this key does too: `Files` and
/// `files` are equal, hash alike, and serialize alike (the name in lowercase), so ReCoco sees
/// one table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct D1TableId {
    /// The database.
    pub database: DatabaseId,
    /// The table name (unquoted; quoted in every statement). Serialized in lowercase.
    #[serde(serialize_with = "serialize_lowercase")]
    pub table: String,
}

fn serialize_lowercase<S: serde::Serializer>(name: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&name.to_ascii_lowercase())
}

impl PartialEq for D1TableId {
    fn eq(&self, other: &D1TableId) -> bool {
        self.database == other.database && self.table.eq_ignore_ascii_case(&other.table)
    }
}

impl Eq for D1TableId {}

impl std::hash::Hash for D1TableId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.database.hash(state);
        for b in self.table.bytes() {
            state.write_u8(b.to_ascii_lowercase());
        }
        state.write_u8(0xff);
    }
}

impl std::fmt::Display for D1TableId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "D1 table {} in {}",
            crate::sql::quote_ident(&self.table),
            self.database
        )
    }
}

/// The setup state: the table definition, and where the API token comes from (so setup can
/// still reach the database after the export is removed from the flow). Never the token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct D1SetupState {
    /// The table definition.
    pub schema: TableSchema,
    /// Token source for HTTP databases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenSource>,
    /// What setup does with a table of this name that this flow has no record of creating.
    #[serde(default, skip_serializing_if = "ExistingTable::is_refuse")]
    pub existing: ExistingTable,
}

/// The default table name for export `export` of flow `flow`: `{flow}__{export}` with every
/// character outside `[A-Za-z0-9_]` replaced by `_` (and a leading `_` before a digit).
pub fn default_table_name(flow: &str, export: &str) -> String {
    let mut name: String = format!("{flow}__{export}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(
            c.token_source(),
            Some(TokenSource::Env {
                env: DEFAULT_TOKEN_ENV.into()
            })
        );
    }

    #[test]
    fn unknown_spec_keys_are_refused() {
        let r: Result<D1Spec, _> = serde_json::from_value(serde_json::json!({
            "connection": {"local": "a.d1"}, "tabel": "x"
        }));
        assert!(r.is_err());
    }

    #[test]
    fn default_names_are_sanitised() {
        assert_eq!(
            default_table_name("my-flow", "out.rows"),
            "my_flow__out_rows"
        );
        assert_eq!(default_table_name("1flow", "x"), "_1flow__x");
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
        let default = env(DEFAULT_TOKEN_ENV);
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

    #[test]
    fn existing_table_policy_defaults_to_refuse_and_stays_out_of_old_states() {
        let spec: D1Spec = serde_json::from_value(serde_json::json!({
            "connection": {"local": "a.d1"}, "existing": "adopt"
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(spec.existing, ExistingTable::Adopt);
        let spec = D1Spec::new(Connection::local("a.d1"));
        let json = serde_json::to_value(&spec).unwrap_or_default();
        assert!(json.get("existing").is_none(), "{json}");
        let state: D1SetupState =
            serde_json::from_value(serde_json::json!({"schema": TableSchema::new("t")}))
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(state.existing, ExistingTable::Refuse);
    }

    #[test]
    fn setup_state_never_holds_a_token() {
        let state = D1SetupState {
            schema: TableSchema::new("t"),
            token: Some(TokenSource::Env {
                env: "CLOUDFLARE_API_TOKEN".into(),
            }),
            existing: ExistingTable::Refuse,
        };
        let json = serde_json::to_string(&state).unwrap_or_default();
        assert!(json.contains("CLOUDFLARE_API_TOKEN"));
    }
}
