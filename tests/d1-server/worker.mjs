// A module worker serving Cloudflare's D1 HTTP API routes on top of a real D1 binding:
//
//   POST /client/v4/accounts/:account/d1/database/:database/raw    (rows as arrays)
//   POST /client/v4/accounts/:account/d1/database/:database/query  (rows as objects)
//
// Body: {"sql": "...", "params": [...]} or {"batch": [{"sql", "params"}, ...]}.
// The whole batch runs as one transaction, as on hosted D1. Answers use Cloudflare's
// envelope {success, errors, messages, result}; SQL errors are HTTP 400 with code 7500,
// a bad token is HTTP 401 with code 10000.

const ROUTE = /^\/client\/v4\/accounts\/([^/]+)\/d1\/database\/([^/]+)\/(raw|query)$/;

function envelope(status, result, errors = []) {
  return Response.json(
    { success: errors.length === 0, errors, messages: [], result },
    { status },
  );
}

function failure(status, code, message) {
  return envelope(status, null, [{ code, message }]);
}

// Hosted D1 accepts booleans and turns them into 0/1; the D1 engine accepts numbers,
// strings, null and byte arrays.
function normaliseParam(p) {
  if (p === true) return 1;
  if (p === false) return 0;
  return p;
}

function parseBody(body) {
  if (body === null || typeof body !== "object") throw new Error("body must be a JSON object");
  const entries = Array.isArray(body.batch) ? body.batch : [body];
  if (entries.length === 0) throw new Error("empty batch");
  return entries.map((e, i) => {
    if (e === null || typeof e !== "object" || typeof e.sql !== "string") {
      throw new Error(`batch entry ${i}: "sql" must be a string`);
    }
    const params = e.params ?? [];
    if (!Array.isArray(params)) throw new Error(`batch entry ${i}: "params" must be an array`);
    return { sql: e.sql, params: params.map(normaliseParam) };
  });
}

function bytesToArray(v) {
  if (v instanceof ArrayBuffer) return Array.from(new Uint8Array(v));
  if (ArrayBuffer.isView(v)) return Array.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  return v;
}

// Preferred path: the D1 binding's own engine endpoint, which returns columns and rows
// (keeps column order and duplicate names) and runs the list as one transaction.
async function runViaEngine(db, queries) {
  const response = await db.fetcher.fetch("http://d1/query?resultsFormat=ROWS_AND_COLUMNS", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(queries),
  });
  const body = await response.json();
  if (!Array.isArray(body)) {
    const message = body && typeof body.error === "string" ? body.error : JSON.stringify(body);
    throw new Error(message);
  }
  return body.map((r) => ({
    columns: r.results.columns,
    rows: r.results.rows.map((row) => row.map(bytesToArray)),
    meta: r.meta ?? {},
  }));
}

// Fallback: the public binding API (db.batch is one transaction; rows come back as objects).
async function runViaBatch(db, queries) {
  const results = await db.batch(queries.map((q) => db.prepare(q.sql).bind(...q.params)));
  return results.map((r) => {
    const objects = r.results ?? [];
    const columns = objects.length > 0 ? Object.keys(objects[0]) : [];
    return {
      columns,
      rows: objects.map((o) => columns.map((c) => bytesToArray(o[c]))),
      meta: r.meta ?? {},
    };
  });
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const route = url.pathname.match(ROUTE);
    if (!route) return failure(404, 7000, `No route for that URI: ${url.pathname}`);
    if (request.method !== "POST") return failure(405, 10405, "Method not allowed");
    const [, account, database, format] = route;
    const auth = request.headers.get("authorization") ?? "";
    if (auth !== `Bearer ${env.API_TOKEN}`) {
      return failure(401, 10000, "Authentication error");
    }
    if (account !== env.ACCOUNT_ID || database !== env.DATABASE_ID) {
      return failure(404, 7404, "The database could not be found");
    }
    let queries;
    try {
      queries = parseBody(await request.json());
    } catch (e) {
      return failure(400, 7400, `Invalid request body: ${e.message}`);
    }
    let results;
    try {
      results = env.DB.fetcher && typeof env.DB.fetcher.fetch === "function"
        ? await runViaEngine(env.DB, queries)
        : await runViaBatch(env.DB, queries);
    } catch (e) {
      const message = e && typeof e.message === "string" ? e.message : String(e);
      return failure(400, 7500, message);
    }
    const result = results.map((r) => ({
      results: format === "raw"
        ? { columns: r.columns, rows: r.rows }
        : r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [c, row[i]]))),
      success: true,
      meta: r.meta,
    }));
    return envelope(200, result);
  },
};
