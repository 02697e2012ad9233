/**
 * Waits (real time, up to about 10 s: 400 checks 25 ms apart) for something a run started without awaiting has done,
 * e.g. a write committed by an invocation that is then "killed" (never answered). Throws naming `what` when it does not.
 */
export async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (condition()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}
