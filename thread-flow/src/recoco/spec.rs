//! The serde side of the target: the export spec, the setup key and the setup state.
//!
//! The spec's JSON shape, and the rules for tables this flow did not create (`existing`) and
//! for specs arriving as data (SQL fragments, token sources, base URLs), are on [`D1Spec`].

use serde::{Deserialize, Serialize};

pub(crate) use crate::client::connection::{Connection, DatabaseId, TokenSource};
use crate::{Error, Result, TableSchema};

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
    /// Set by [`crate::recoco::export`]: the `#[derive(D1Target)]` struct whose column codecs encode
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

    #[test]
    fn spec_json_round_trips_and_partial_connections_name_the_missing_field() {
        let json = serde_json::json!({
            "connection": {"http": {"base_url": "https://d1.example.com", "account_id": "a",
                                    "database_id": "d", "token": {"env": "MY_API_TOKEN"}}},
            "table": "t",
            "max_request_bytes": 500000,
            "existing": "adopt"
        });
        let spec: D1Spec = serde_json::from_value(json.clone()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            spec.connection.token_source(),
            Some(TokenSource::Env {
                env: "MY_API_TOKEN".into()
            })
        );
        assert_eq!(serde_json::to_value(&spec).unwrap_or_default(), json);
        let back: D1Spec = serde_json::from_value(serde_json::to_value(&spec).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, spec);
        // A Cloudflare connection given only in part is refused, naming what is missing.
        let err = serde_json::from_value::<D1Spec>(serde_json::json!({
            "connection": {"cloudflare": {"account_id": "a"}}
        }))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains("database_id"), "{err}");
    }
}
