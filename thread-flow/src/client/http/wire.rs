//! The JSON of D1's HTTP API: request bodies out, envelopes in. No I/O.

use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq};
use serde_json::Value as Json;

use crate::client::StatementResult;
use crate::sql::Statement;
use crate::{Error, Result, Value};

/// Largest integer a JSON number carries exactly through D1 (JavaScript's safe range).
pub(crate) const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// Checks that every parameter can travel as JSON, naming the statement and parameter when
/// one cannot. The SQL layer never produces such values; this guards the escape hatch.
pub(crate) fn check_params(statements: &[Statement]) -> Result<()> {
    for (s, statement) in statements.iter().enumerate() {
        for (p, value) in statement.params.iter().enumerate() {
            let problem = match value {
                Value::Integer(i) if !(-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(i) => {
                    format!(
                        "integer {i} is beyond ±(2^53-1) and would lose precision as a JSON number; \
                     bind it as decimal text inside `CAST(? AS INTEGER)`"
                    )
                }
                Value::Real(r) if !r.is_finite() => {
                    format!("{r} is not a finite number; D1 cannot store NaN or infinity")
                }
                Value::Blob(b) => format!(
                    "a BLOB of {} bytes cannot travel as a JSON parameter; bind it as hex text \
                     inside `unhex(?)`",
                    b.len()
                ),
                _ => continue,
            };
            return Err(Error::Parameter {
                statement: s + 1,
                parameter: p + 1,
                table: None,
                message: problem,
            });
        }
    }
    Ok(())
}

/// `{"batch": [{"sql": .., "params": [..]}, ..]}`, serialised without an intermediate tree.
pub(crate) fn encode_batch(statements: &[Statement]) -> Result<Vec<u8>> {
    check_params(statements)?;
    serde_json::to_vec(&Batch(statements))
        .map_err(|e| Error::Config(format!("cannot encode the D1 request body: {e}")))
}

struct Batch<'a>(&'a [Statement]);
struct Entry<'a>(&'a Statement);
struct Params<'a>(&'a [Value]);
struct Param<'a>(&'a Value);

impl Serialize for Batch<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry("batch", &Entries(self.0))?;
        map.end()
    }
}

struct Entries<'a>(&'a [Statement]);

impl Serialize for Entries<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for statement in self.0 {
            seq.serialize_element(&Entry(statement))?;
        }
        seq.end()
    }
}

impl Serialize for Entry<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("sql", &self.0.sql)?;
        map.serialize_entry("params", &Params(&self.0.params))?;
        map.end()
    }
}

impl Serialize for Params<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for value in self.0 {
            seq.serialize_element(&Param(value))?;
        }
        seq.end()
    }
}

impl Serialize for Param<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self.0 {
            Value::Null => s.serialize_unit(),
            Value::Integer(i) => s.serialize_i64(*i),
            Value::Real(r) => s.serialize_f64(*r),
            Value::Text(t) => s.serialize_str(t),
            // Rejected by `check_params`; kept total for safety.
            Value::Blob(b) => s.collect_seq(b.iter()),
        }
    }
}

/// D1's answer to one request, as far as the transport needs it.
#[derive(Debug)]
pub(crate) enum Envelope {
    /// `success: true` with one result per statement.
    Success(Vec<StatementResult>),
    /// `success: false` (or an error status) with D1's first error code and the messages.
    Failure { code: Option<i64>, message: String },
}

/// Parses a response body. `None` when it is not a Cloudflare envelope at all (a proxy's
/// HTML page, an empty body, ...).
pub(crate) fn parse_envelope(body: &[u8]) -> Option<Result<Envelope, String>> {
    let json: Json = serde_json::from_slice(body).ok()?;
    let obj = json.as_object()?;
    let errors = obj
        .get("errors")
        .and_then(Json::as_array)
        .filter(|e| !e.is_empty());
    let success = obj.get("success").and_then(Json::as_bool);
    if success == Some(false) || (success.is_none() && errors.is_some()) {
        let (code, message) = errors
            .map(|e| first_error(e))
            .unwrap_or((None, String::new()));
        let message = if message.is_empty() {
            "D1 reported failure without a message".into()
        } else {
            message
        };
        return Some(Ok(Envelope::Failure { code, message }));
    }
    let Some(result) = obj.get("result") else {
        return Some(Err("response has no `result`".into()));
    };
    let items: Vec<&Json> = match result {
        Json::Array(items) => items.iter().collect(),
        Json::Object(_) => vec![result],
        Json::Null => Vec::new(),
        _ => return Some(Err("`result` is neither an array nor an object".into())),
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        match parse_statement_result(item) {
            Ok(r) => out.push(r),
            Err(StatementFailure::Malformed(e)) => {
                return Some(Err(format!("result {}: {e}", i + 1)));
            }
            Err(StatementFailure::Failed { code, message }) => {
                return Some(Ok(Envelope::Failure { code, message }));
            }
        }
    }
    Some(Ok(Envelope::Success(out)))
}

fn first_error(errors: &[Json]) -> (Option<i64>, String) {
    let code = errors
        .iter()
        .find_map(|e| e.get("code").and_then(Json::as_i64));
    let messages: Vec<String> = errors
        .iter()
        .map(|e| match e.get("message") {
            Some(Json::String(m)) => m.clone(),
            Some(other) => other.to_string(),
            None => e.to_string(),
        })
        .collect();
    (code, messages.join("; "))
}

enum StatementFailure {
    Malformed(String),
    Failed { code: Option<i64>, message: String },
}

fn parse_statement_result(item: &Json) -> std::result::Result<StatementResult, StatementFailure> {
    let obj = item
        .as_object()
        .ok_or_else(|| StatementFailure::Malformed("not an object".into()))?;
    if obj.get("success").and_then(Json::as_bool) == Some(false) {
        let message = obj
            .get("error")
            .and_then(Json::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| "statement failed".into());
        return Err(StatementFailure::Failed {
            code: None,
            message,
        });
    }
    let mut result = StatementResult::default();
    match obj.get("results") {
        None | Some(Json::Null) => {}
        // `/raw`: {"columns": [..], "rows": [[..], ..]}
        Some(Json::Object(raw)) => {
            if let Some(columns) = raw.get("columns").and_then(Json::as_array) {
                result.columns = columns
                    .iter()
                    .map(|c| {
                        c.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| c.to_string())
                    })
                    .collect();
            }
            if let Some(rows) = raw.get("rows").and_then(Json::as_array) {
                result.rows = rows
                    .iter()
                    .map(|row| match row {
                        Json::Array(cells) => cells.iter().map(json_to_value).collect(),
                        _ => Err("a row is not an array".to_owned()),
                    })
                    .collect::<std::result::Result<_, _>>()
                    .map_err(StatementFailure::Malformed)?;
            }
        }
        // `/query`: [{"column": value, ..}, ..] (column order as the server sent it).
        Some(Json::Array(objects)) => {
            if let Some(Json::Object(first)) = objects.first() {
                result.columns = first.keys().cloned().collect();
            }
            for o in objects {
                let o = o
                    .as_object()
                    .ok_or_else(|| StatementFailure::Malformed("a row is not an object".into()))?;
                let row = result
                    .columns
                    .iter()
                    .map(|c| o.get(c).map_or(Ok(Value::Null), json_to_value))
                    .collect::<std::result::Result<_, _>>()
                    .map_err(StatementFailure::Malformed)?;
                result.rows.push(row);
            }
        }
        Some(_) => {
            return Err(StatementFailure::Malformed(
                "`results` has an unknown shape".into(),
            ));
        }
    }
    if let Some(meta) = obj.get("meta").and_then(Json::as_object) {
        result.changes = meta.get("changes").and_then(as_count).unwrap_or(0);
        result.rows_read = meta.get("rows_read").and_then(as_count);
        result.rows_written = meta.get("rows_written").and_then(as_count);
    }
    Ok(result)
}

/// A count that may arrive as an integer or (from JavaScript) as a float.
fn as_count(v: &Json) -> Option<u64> {
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0 && f.fract() == 0.0 && *f <= u64::MAX as f64)
            .map(|f| f as u64)
    })
}

/// One cell: integral number -> INTEGER, other number -> REAL, string -> TEXT,
/// null -> NULL, array of bytes -> BLOB.
pub(crate) fn json_to_value(v: &Json) -> std::result::Result<Value, String> {
    Ok(match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Integer(i64::from(*b)),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Real(
                n.as_f64()
                    .ok_or_else(|| format!("number {n} out of range"))?,
            ),
        },
        Json::String(s) => Value::Text(s.clone()),
        Json::Array(bytes) => Value::Blob(
            bytes
                .iter()
                .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect::<Option<Vec<u8>>>()
                .ok_or_else(|| "an array cell is not a list of bytes".to_owned())?,
        ),
        Json::Object(_) => return Err("unexpected object in a result cell".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_batch_body() {
        let body = encode_batch(&[
            Statement::new(
                "INSERT INTO t VALUES (?, ?, ?, ?)",
                vec![
                    Value::Integer(1),
                    Value::Real(1.5),
                    Value::Text("é\"".into()),
                    Value::Null,
                ],
            ),
            Statement::raw("SELECT 1"),
        ])
        .unwrap();
        let json: Json = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"batch": [
                {"sql": "INSERT INTO t VALUES (?, ?, ?, ?)", "params": [1, 1.5, "é\"", null]},
                {"sql": "SELECT 1", "params": []}
            ]})
        );
    }

    #[test]
    fn refuses_values_json_cannot_carry() {
        for bad in [
            Value::Integer(MAX_SAFE_INTEGER + 1),
            Value::Integer(i64::MIN),
            Value::Real(f64::NAN),
            Value::Real(f64::NEG_INFINITY),
            Value::Blob(vec![1, 2]),
        ] {
            let err =
                encode_batch(&[Statement::new("SELECT ?, ?", vec![Value::Null, bad])]).unwrap_err();
            match err {
                Error::Parameter {
                    statement: 1,
                    parameter,
                    table: None,
                    ..
                } => assert_eq!(parameter, 2),
                other => panic!("unexpected {other:?}"),
            }
        }
        encode_batch(&[Statement::new(
            "SELECT ?",
            vec![Value::Integer(MAX_SAFE_INTEGER)],
        )])
        .unwrap();
    }

    #[test]
    fn parses_raw_envelope() {
        let body = br#"{"success":true,"errors":[],"messages":[],"result":[
            {"results":{"columns":["a","a","b"],"rows":[[1,2.5,"x"],[null,[0,255],3]]},"success":true,
             "meta":{"changes":2,"rows_read":3.0,"last_row_id":9223372036854776000}},
            {"results":{"columns":[],"rows":[]},"success":true}]}"#;
        let Some(Ok(Envelope::Success(results))) = parse_envelope(body) else {
            panic!()
        };
        assert_eq!(results.len(), 2);
        assert_eq!(results[0].columns, ["a", "a", "b"]);
        assert_eq!(
            results[0].rows,
            vec![
                vec![Value::Integer(1), Value::Real(2.5), Value::Text("x".into())],
                vec![Value::Null, Value::Blob(vec![0, 255]), Value::Integer(3)],
            ]
        );
        assert_eq!(results[0].changes, 2);
        assert_eq!(results[0].rows_read, Some(3));
        assert_eq!(results[1], StatementResult::default());
    }

    #[test]
    fn reals_parse_to_the_exact_double() {
        // Needs serde_json's `float_roundtrip`: the default parser can be one ULP off.
        for x in [
            -4_093.499_093_000_000_4_f64,
            90.333_333_333_333_33,
            0.1 + 0.2,
            f64::MAX,
            5e-324,
        ] {
            let body = format!(
                r#"{{"success":true,"result":[{{"results":{{"columns":["x"],"rows":[[{}]]}}}}]}}"#,
                serde_json::to_string(&x).unwrap()
            );
            let Some(Ok(Envelope::Success(r))) = parse_envelope(body.as_bytes()) else {
                panic!()
            };
            assert_eq!(r[0].rows[0][0], Value::Real(x), "{x:e}");
        }
    }

    #[test]
    fn parses_failures_and_non_json() {
        let body = br#"{"success":false,"errors":[{"code":7500,"message":"no such table: x: SQLITE_ERROR"}],"result":null}"#;
        match parse_envelope(body) {
            Some(Ok(Envelope::Failure { code, message })) => {
                assert_eq!(code, Some(7500));
                assert!(message.contains("no such table"));
            }
            other => panic!("{other:?}"),
        }
        assert!(parse_envelope(b"<html>502 Bad Gateway</html>").is_none());
        assert!(parse_envelope(b"").is_none());
    }
}
