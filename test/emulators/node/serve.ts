/**
 * Serves an emulator (any object with a web-standard `fetch`) as a real HTTP server on loopback.
 * Port 0 picks a free port; `npm run emulators` uses fixed ones.
 */
import { serve } from "@hono/node-server";
import type { AddressInfo } from "node:net";

export interface RunningServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

export function serveOnLoopback(app: { fetch: (req: Request) => Response | Promise<Response> }, port = 0): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port, hostname: "127.0.0.1" }, (info: AddressInfo) => {
      resolve({
        port: info.port,
        url: `http://127.0.0.1:${info.port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            // Keep-alive sockets would hold close() open; tests should not wait on them.
            (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
          }),
      });
    });
    server.on("error", reject);
  });
}
