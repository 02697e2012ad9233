// Lets `env` and `exports` from "cloudflare:workers" carry this Worker's types (what `wrangler types` would generate).
type WorkerEnvBindings = import("./env.ts").Env;
declare namespace Cloudflare {
  interface GlobalProps {
    mainModule: typeof import("./index.ts");
  }
  interface Env extends WorkerEnvBindings {}
}
