// Writes .br and .gz next to every built JS and CSS asset: the gateway sends them to browsers that
// accept them (gateway/console.py), compressed once at build time rather than on every request.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const assets = join(import.meta.dirname, "..", "dist", "assets");
for (const name of readdirSync(assets)) {
  if (!/\.(js|css)$/.test(name)) continue;
  const path = join(assets, name);
  const data = readFileSync(path);
  writeFileSync(`${path}.br`, brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
  writeFileSync(`${path}.gz`, gzipSync(data, { level: 9 }));
}
