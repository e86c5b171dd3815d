// The inbound spool on disk: append-only JSON-lines segment files, fsynced per append, replayed in order.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { type FileHandle, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { settled } from '../../core/settled.js';
import { SbError } from '../../domain/errors.js';
import type { MessageSpool, SpoolRecord } from '../../ports/spool.js';

export interface FileSpoolOptions {
  /** Directory of the segment files; created at the first append. */
  dir: string;
  /** Most bytes on disk (all segments) before appends are refused. */
  maxBytes: number;
  /** Most pending records before appends are refused. */
  maxMessages: number;
  /** Told about a line that cannot be read (a torn tail from a crash during a write that was never acknowledged). */
  onCorrupt?: (file: string, line: number) => void;
}

interface Segment {
  file: string;
  /** Records in the file. */
  records: number;
  /** Records of it already handed to a replay handler successfully (this process). */
  done: number;
  bytes: number;
}

const SEGMENT = /^seg-(\d{12})\.jsonl$/;

/** Parses a segment's text into records, skipping (and reporting) lines that are not whole records. */
function parseSegment(text: string, onBad: (line: number) => void): SpoolRecord[] {
  const lines = text.split('\n');
  // The last element is what follows the final newline: empty, or a torn write that was never synced.
  const tail = lines.pop();
  if (tail) onBad(lines.length + 1);
  const out: SpoolRecord[] = [];
  lines.forEach((line, i) => {
    try {
      const rec = JSON.parse(line) as SpoolRecord;
      if (typeof rec?.instance_id !== 'string' || typeof rec.message?.message_id !== 'string')
        throw new Error('not a spool record');
      out.push(rec);
    } catch {
      onBad(i + 1);
    }
  });
  return out;
}

/** Opens (scans) a spool directory. Existing segments are pending records from an earlier run. */
export function openFileSpool(opts: FileSpoolOptions): MessageSpool {
  return new FileSpool(opts);
}

class FileSpool implements MessageSpool {
  /** Closed segments waiting for replay, oldest first. */
  private readonly sealed: Segment[] = [];
  private current: (Segment & { fh: FileHandle }) | null = null;
  private nextSeq = 1;
  private pendingCount = 0;
  private byteCount = 0;
  /** Serialises appends, sealing and close. */
  private lock: Promise<unknown> = Promise.resolve();
  private replaying: Promise<number> = Promise.resolve(0);
  private dirReady = false;

  constructor(private readonly opts: FileSpoolOptions) {
    if (!existsSync(opts.dir)) return;
    this.dirReady = true;
    const names = readdirSync(opts.dir)
      .filter((n) => SEGMENT.test(n))
      .sort();
    for (const name of names) {
      const file = join(opts.dir, name);
      const records = parseSegment(readFileSync(file, 'utf8'), (line) => opts.onCorrupt?.(file, line)).length;
      const bytes = statSync(file).size;
      this.sealed.push({ file, records, done: 0, bytes });
      this.pendingCount += records;
      this.byteCount += bytes;
      this.nextSeq = Number(SEGMENT.exec(name)![1]) + 1;
    }
  }

  get pending(): number {
    return this.pendingCount;
  }

  get bytes(): number {
    return this.byteCount;
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    // The chain only orders the calls; each caller gets its own outcome through `run`.
    this.lock = settled(run);
    return run;
  }

  append(rec: SpoolRecord): Promise<void> {
    return this.locked(async () => {
      const line = `${JSON.stringify(rec)}\n`;
      const size = Buffer.byteLength(line);
      if (this.pendingCount + 1 > this.opts.maxMessages || this.byteCount + size > this.opts.maxBytes) {
        throw new SbError('SB_ERR_SPOOL_FULL', 'the inbound spool is full', {
          details: { pending: this.pendingCount, bytes: this.byteCount },
        });
      }
      const seg = this.current ?? (await this.openSegment());
      try {
        await seg.fh.write(line);
        await seg.fh.datasync();
      } catch (err) {
        // A partial line may be on disk: never append after it (the reader skips a torn tail).
        await this.sealLocked();
        throw err;
      }
      seg.records++;
      seg.bytes += size;
      this.pendingCount++;
      this.byteCount += size;
    });
  }

  private async openSegment(): Promise<Segment & { fh: FileHandle }> {
    if (!this.dirReady) {
      await mkdir(this.opts.dir, { recursive: true });
      this.dirReady = true;
    }
    const file = join(this.opts.dir, `seg-${String(this.nextSeq++).padStart(12, '0')}.jsonl`);
    const fh = await open(file, 'a');
    // The new file's directory entry is made durable too, or a crash could lose the whole segment.
    const dir = await open(this.opts.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    this.current = { file, records: 0, done: 0, bytes: 0, fh };
    return this.current;
  }

  /** Closes the segment being written so a replay can take it; the next append starts a new one. */
  private async sealLocked(): Promise<void> {
    const seg = this.current;
    if (!seg) return;
    this.current = null;
    await seg.fh.close();
    const { fh: _fh, ...rest } = seg;
    if (rest.records > 0) this.sealed.push(rest);
    else {
      await unlink(rest.file);
      this.byteCount -= rest.bytes;
    }
  }

  replay(handler: (rec: SpoolRecord) => Promise<void>): Promise<number> {
    // The previous replay's failure was reported to its own caller; this one starts regardless.
    const run = this.replaying.catch(() => 0).then(() => this.replayOnce(handler));
    this.replaying = run;
    return run;
  }

  private async replayOnce(handler: (rec: SpoolRecord) => Promise<void>): Promise<number> {
    let handled = 0;
    for (;;) {
      if (!this.sealed.length) await this.locked(() => this.sealLocked());
      const seg = this.sealed[0];
      if (!seg) return handled;
      const records = parseSegment(await readFile(seg.file, 'utf8'), () => {});
      // The scan counted what was readable; keep the pending count in step with what is really there.
      this.pendingCount += records.length - seg.records;
      seg.records = records.length;
      for (; seg.done < records.length; seg.done++) {
        await handler(records[seg.done]!);
        this.pendingCount--;
        handled++;
      }
      await unlink(seg.file);
      this.byteCount -= seg.bytes;
      this.sealed.shift();
    }
  }

  close(): Promise<void> {
    return this.locked(() => this.sealLocked());
  }
}
