// A static HTTP server on 127.0.0.1 for the browser test: WebGPU needs a secure context, which
// http://127.0.0.1 is and file:// pages are not. It serves only the folders a page needs (the
// bundles in dist/, the examples, this folder) plus in-memory routes, and nothing outside them.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.css': 'text/css',
};

const SERVED = ['/dist/', '/examples/', '/test/browser/'];

export interface StaticServer {
  origin: string;
  close(): Promise<void>;
}

/** Serves `root`'s SERVED folders and the given in-memory files (path → [content type, body]). */
export async function serve(root: string, routes: Record<string, [string, string]> = {}): Promise<StaticServer> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname));
    const route = routes[path];
    if (route) {
      res.writeHead(200, { 'content-type': route[0], 'cache-control': 'no-store' }).end(route[1]);
      return;
    }
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (!SERVED.some((prefix) => path.startsWith(prefix))) {
      res.writeHead(404).end(`not served: ${path}`);
      return;
    }
    readFile(join(root, path)).then(
      (body) => res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream', 'cache-control': 'no-store' }).end(body),
      () => res.writeHead(404).end(`not found: ${path}`),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
