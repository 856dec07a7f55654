// Starts a real local D1 (Miniflare 4 / workerd) serving the D1 HTTP API routes of worker.mjs.
//
//   node launcher.mjs [--port N] [--persist DIR] [--account ID] [--database ID]
//
// The API token is read from the D1_SERVER_TOKEN environment variable (never from argv, so it
// does not show in process listings). Prints `READY <url>` on stdout once the server accepts
// requests, then runs until SIGTERM/SIGINT or until stdin closes. Binds 127.0.0.1 only; no
// network access (`cf: false`).

import { readFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const here = dirname(fileURLToPath(import.meta.url));
const port = Number(option("port", "0"));
const persist = option("persist", null) ?? mkdtempSync(join(tmpdir(), "thread-flow-d1-"));
const account = option("account", "local-account");
const database = option("database", "local-database");
const token = process.env.D1_SERVER_TOKEN;
if (!token) {
  console.error("D1_SERVER_TOKEN is not set: give the API token the server should accept");
  process.exit(2);
}

const mf = new Miniflare({
  modules: true,
  script: readFileSync(join(here, "worker.mjs"), "utf8"),
  scriptPath: join(here, "worker.mjs"),
  compatibilityDate: "2025-01-01",
  cf: false,
  host: "127.0.0.1",
  port,
  d1Databases: { DB: database },
  d1Persist: persist,
  bindings: { API_TOKEN: token, ACCOUNT_ID: account, DATABASE_ID: database },
});

let stopping = false;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  try {
    await mf.dispose();
  } finally {
    process.exit(code);
  }
}
process.on("SIGTERM", () => stop(0));
process.on("SIGINT", () => stop(0));
process.stdin.on("end", () => stop(0));
process.stdin.resume();

try {
  const url = await mf.ready;
  process.stdout.write(`READY ${url.origin} ${persist}\n`);
} catch (e) {
  console.error(`miniflare failed to start: ${e && e.stack ? e.stack : e}`);
  await stop(1);
}
