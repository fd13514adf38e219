/**
 * The playground (examples/browser/): bundled with the page options of browser-build.ts and
 * served on localhost, which browsers treat as a secure context, so WebGPU works there.
 *
 *   npm run playground [-- --port N] [--out DIR]     (default port 5173, DIR dist/playground)
 */
import { copyFileSync, createReadStream, existsSync, mkdirSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";
import { pageBuildOptions } from "./browser-build.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const page = join(root, "examples", "browser");

/** Bundles the playground into `outdir` (emptied first): index.html, playground.js and its chunks. */
export async function buildPlayground(outdir = join(root, "dist", "playground")): Promise<string> {
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  // Identifiers stay unminified: jit names a graph's inputs after the function's parameters,
  // and the page shows the workloads' graphs (%x, %gamma, not %e, %t).
  await build({ ...pageBuildOptions({ playground: join(page, "playground.ts") }, outdir), minify: false, minifyWhitespace: true, minifySyntax: true });
  copyFileSync(join(page, "index.html"), join(outdir, "index.html"));
  return outdir;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".map": "application/json",
};

/** Serves `dir` on localhost:`port`; resolves once listening. */
export function servePlayground(dir: string, port: number): Promise<ReturnType<typeof createServer>> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? "/", "http://localhost").pathname)).replace(/^[/\\]+/, "");
    const file = join(dir, path || "index.html");
    if (path.startsWith("..") || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { "content-type": "text/plain" }).end(`not found: ${req.url}`);
      return;
    }
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "cache-control": "no-store" });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "localhost", () => resolve(server));
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { port: { type: "string", default: "5173" }, out: { type: "string" } } });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    console.error(`--port: expected a port number from 1 to 65535, got '${values.port}'`);
    process.exit(2);
  }
  const dir = await buildPlayground(values.out ? resolve(values.out) : undefined);
  try {
    await servePlayground(dir, port);
  } catch (e) {
    console.error(`cannot listen on localhost:${port}: ${(e as Error).message} (choose another with --port N)`);
    process.exit(1);
  }
  console.log(`smelt playground: http://localhost:${port}/  (built in ${dir}; Ctrl-C stops)`);
}
