import type { TestProject } from "vitest/node";
import { createEmulatorHub } from "../emulators/hub.ts";
import { serveOnLoopback } from "../emulators/node/serve.ts";

/** Starts the emulator hub (real HTTP on loopback) once per test run; workerd tests create stacks on it. */
export default async function setup(project: TestProject) {
  let url = "";
  const hub = createEmulatorHub(() => url);
  const server = await serveOnLoopback(hub.app);
  url = server.url;
  project.provide("emulatorHub", url);
  return async () => {
    await server.close();
  };
}
