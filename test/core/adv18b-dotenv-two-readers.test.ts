/**
 * Adversary (issue 18 item 2, "no hand-written parser where Node's own does the job (util.parseEnv)"): the CLI
 * still reads .env with its own parser (action/cli/dotenv.ts parseDotenv) while `npm start` reads .dev.vars with
 * Node's util.parseEnv (scripts/start-args.ts devVarsFrom). The same line gives different values:
 *   A=a#b          CLI "a#b"        Node "a"
 *   A="x\ty"       CLI "x<TAB>y"    Node "x\ty"
 *   A="b\\s"       CLI "b\s"        Node "b\\s"
 *   A=`tick`       CLI "`tick`"     Node "tick"
 * so a secret holding # or \ signs in one host and fails in the other.
 * Expected: one reader, one value. Was: the values above. Fixed: the CLI reads .env with util.parseEnv too.
 */
import { parseEnv } from "node:util";
import { describe, expect, it } from "vitest";
import { parseDotenv } from "../../action/cli/dotenv.ts";

describe(".env text read by the CLI and by npm start", () => {
  for (const line of ["A=a#b", 'A="x\\ty"', 'A="b\\\\s"', "A=`tick`"]) {
    it(`${line} gives one value`, () => {
      expect(parseDotenv(line).A).toBe(parseEnv(line).A);
    });
  }
  it("lines both read alike stay alike", () => {
    for (const line of ["A=a #b", "A='sq #x'", "A= spaced ", 'A="multi\nline"']) expect(parseDotenv(line).A, line).toBe(parseEnv(line).A);
  });
});
