/**
 * Adversarial review of issue 15 item 4 (tokens at rest: 0600 files in a 0700 directory). A state
 * directory that already exists (restored by actions/cache, created by `mkdir`, checked out) keeps
 * its 0755 mode, so token file names (tok:jushuitan…, tok:kis…) and their count/mtime stay listable by
 * every local user, and a file planted there by another user is read as state.
 */
import { chmod, mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FileKeyValueStore } from "../../action/state/file-kv.ts";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe.skipIf(process.platform === "win32")("adv15: state directory mode", () => {
  it("adv15 file-kv: an existing 0755 state directory is tightened to 0700 before a token is written", async () => {
    const base = await mkdtemp(join(tmpdir(), "adv15-"));
    dirs.push(base);
    const dir = join(base, ".jst-bridge");
    await mkdir(dir, { mode: 0o755 });
    await chmod(dir, 0o755);
    const kv = new FileKeyValueStore({ dir });
    await kv.put("tok:jushuitan:default", JSON.stringify({ accessToken: "a".repeat(32), refreshToken: "r".repeat(32) }));
    const mode = (await stat(dir)).mode & 0o777;
    expect(mode.toString(8)).toBe("700");
  });
});
