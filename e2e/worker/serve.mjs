// Runs dist/worker.js (build.mjs's bundle) in workerd through Miniflare on
// 127.0.0.1:
//
//   node serve.mjs [PORT]     (0 or none: a free port)
//
// with the ChatAgent Durable Object (SQLite-backed, in memory) and
// nodejs_compat, as the Agents SDK requires. Prints "READY http://127.0.0.1:PORT/"
// once the runtime serves, then runs until SIGTERM, SIGINT or its standard
// input closes (so it never outlives the test that started it).
import { Miniflare } from "miniflare";
import { readFileSync } from "node:fs";

const port = Number(process.argv[2] ?? 0);
const script = new URL("./dist/worker.js", import.meta.url);

const mf = new Miniflare({
  host: "127.0.0.1",
  port,
  modules: [{ type: "ESModule", path: script.pathname, contents: readFileSync(script) }],
  compatibilityDate: "2026-07-01",
  compatibilityFlags: ["nodejs_compat"],
  durableObjects: { ChatAgent: { className: "ChatAgent", useSQLite: true } },
});

let stopping = false;
async function stop(why) {
  if (stopping) return;
  stopping = true;
  console.log(`stopping (${why})`);
  try {
    await mf.dispose();
  } finally {
    process.exit(0);
  }
}
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));
process.stdin.on("end", () => stop("stdin closed"));
process.stdin.on("error", () => stop("stdin error"));
process.stdin.resume();

const url = await mf.ready;
console.log(`READY ${url.href}`);
