// Bindings the vitest config adds for tests only.
declare namespace Cloudflare {
  interface Env {
    EMULATOR_HUB: string;
  }
}
