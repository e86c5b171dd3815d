// Waiting for a promise to settle without taking over its failure (which its own caller or handler already got).

/**
 * Resolves when `p` settles, whichever way. For chains and shutdown waits whose rejections are reported elsewhere:
 * an operation queued behind another must run even when the earlier one failed, and the earlier failure belongs to
 * whoever awaited it, not to the next in line.
 */
export function settled(p: Promise<unknown> | null | undefined): Promise<void> {
  if (!p) return Promise.resolve();
  return p.then(
    () => undefined,
    () => undefined,
  );
}
