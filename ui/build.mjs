// Builds the dashboard into one script, one stylesheet and the page, for the Python package to ship
// (src/babelgate/frontends/ui/assets). Deterministic: the same lockfile gives the same bytes, which
// is what tests/ui/test_bundle.py checks, so the shipped bundle never drifts from this source.
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, "../src/babelgate/frontends/ui/assets"));
mkdirSync(out, { recursive: true });

const result = await build({
  entryPoints: { app: join(here, "src/main.tsx") },
  outdir: out,
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2022", "chrome110", "firefox110", "safari16"],
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  sourcemap: false,
  charset: "utf8",
  metafile: true,
  logLevel: "warning",
});
copyFileSync(join(here, "src/index.html"), join(out, "index.html"));
for (const [name, file] of Object.entries(result.metafile.outputs)) {
  console.log(`${name.split("/").pop()}: ${(file.bytes / 1024).toFixed(1)} KiB`);
}
