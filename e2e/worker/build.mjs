// Bundles src/worker.js and its npm dependencies into dist/worker.js, one
// ES module for workerd, as wrangler would: the workerd/worker/browser
// export conditions, cloudflare:* and Node's built-ins (nodejs_compat)
// left to the runtime.
import { build } from "esbuild";
import { builtinModules } from "node:module";

const here = new URL(".", import.meta.url).pathname;
await build({
  absWorkingDir: here,
  entryPoints: ["src/worker.js"],
  outfile: "dist/worker.js",
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  conditions: ["workerd", "worker", "browser"],
  mainFields: ["module", "main"],
  external: ["cloudflare:*", "node:*", ...builtinModules],
  logLevel: "warning",
});
console.log("built dist/worker.js");
