// A static file server for the example, with no dependencies: it serves this
// directory and writes config.js from the environment.
//
//   TOLLGATE_ISSUER=http://localhost:8080 SPA_CLIENT_ID=spa-example \
//   API_URL=http://localhost:8081 node serve.mjs 5173
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL(".", import.meta.url));
const port = Number(process.argv[2] || 5173);
const config = {
  issuer: process.env.TOLLGATE_ISSUER || "http://localhost:8080",
  clientId: process.env.SPA_CLIENT_ID || "spa-example",
  apiURL: process.env.API_URL || "http://localhost:8081",
};
const types = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".map": "application/json" };

createServer(async (req, res) => {
  const path = new URL(req.url, "http://x").pathname;
  if (path === "/config.js") {
    res.writeHead(200, { "Content-Type": "text/javascript", "Cache-Control": "no-store" });
    res.end("const TOLLGATE_SPA = " + JSON.stringify(config) + ";\n");
    return;
  }
  const file = normalize(join(root, path === "/" ? "index.html" : path));
  if (!file.startsWith(root)) {
    res.writeHead(403).end();
    return;
  }
  try {
    const body = await readFile(file);
    res.writeHead(200, { "Content-Type": (types[extname(file)] || "application/octet-stream") + "; charset=utf-8" });
    res.end(body);
  } catch {
    res.writeHead(404).end("not found");
  }
}).listen(port, "127.0.0.1", () => console.log(`SPA on http://localhost:${port}`));
