// Values the global setup hands to test projects (see test/helpers/global-setup.ts).
import "vitest";
declare module "vitest" {
  export interface ProvidedContext {
    /** Base URL of the emulator hub (test/emulators/hub.ts). */
    emulatorHub: string;
  }
}
