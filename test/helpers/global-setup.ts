import type { TestProject } from "vitest/node";

/** Starts the emulators once per test run (placeholder port until the emulators land). */
export default function setup(project: TestProject) {
  project.provide("emulatorPort", 0);
}
