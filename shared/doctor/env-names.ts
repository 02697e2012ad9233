/** Doctor line for variables that look meant for the bridge but are none of its names (a "?" warning, never a failure). */
import { unknownEnvNames } from "../compose/env-names.ts";
import type { EnvVars } from "../compose/env.ts";
import type { DoctorCheck } from "./index.ts";

export function envNameChecks(env: EnvVars): DoctorCheck[] {
  return unknownEnvNames(Object.keys(env)).map((p) => ({
    system: "bridge" as const,
    title: `variable ${p.name}`,
    status: "unknown" as const,
    detail: p.message,
    fix: p.meant ? `rename it to ${p.meant} (the default runs while it is misspelt)` : "remove it, or rename it to the variable you meant",
  }));
}
