// Downloads through JSON batching: small downloads of one mailbox (messages' MIME) asked for at
// about the same time go to Graph as one `$batch` of up to 20 parts, which saves a round trip, the
// TLS and header work and the client's middleware per item on both sides. The parts are laid out
// as `chains` chains (`dependsOn`), so that no more of them run side by side at the service than a
// mailbox's concurrency allows (Graph counts each part against it); the governor paces the batch
// by its parts (graph-http.ts).
//
// A batch is only an optimisation: any part that does not come back 200 with a body (a 429, a
// 5xx, a 424 after a failed part of its chain, a malformed part) is fetched again alone, through
// the normal path with its retries, Retry-After and error mapping. A 404 is final (the item was
// deleted since it was listed). A 429 part also pauses its mailbox for its Retry-After. Once the
// run stops, every waiting download rejects with the run's abort reason.
import { SourceError } from '../provider.ts';
import type { GraphSession } from './graph.ts';

export const MAX_BATCH_PARTS = 20;

interface Pending {
  path: string;
  resolve: (bytes: Buffer) => void;
  reject: (error: unknown) => void;
}

interface BatchAnswer {
  responses?: { id?: string; status?: number; headers?: Record<string, string>; body?: unknown }[];
}

export interface BatchStats {
  batches: number;
  parts: number;
  /** Parts fetched again alone after the batch did not deliver them. */
  fallbacks: number;
}

function header(headers: Record<string, string> | undefined, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers ?? {})) if (k.toLowerCase() === name) return v;
  return undefined;
}

export class BatchDownloader {
  readonly stats: BatchStats = { batches: 0, parts: 0, fallbacks: 0 };
  readonly #session: GraphSession;
  readonly #chains: number;
  readonly #queues = new Map<string, Pending[]>();

  constructor(session: GraphSession, options: { chains?: number } = {}) {
    this.#session = session;
    this.#chains = Math.max(1, options.chains ?? session.governor.mailboxConcurrency);
  }

  /** The bytes of `path` (relative to /v1.0), batched with the other downloads of `mailbox`. */
  bytes(mailbox: string, path: string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      let queue = this.#queues.get(mailbox);
      if (!queue) {
        queue = [];
        this.#queues.set(mailbox, queue);
        // Whatever was asked for in this turn of the event loop goes together.
        setImmediate(() => this.#flush(mailbox));
      }
      queue.push({ path, resolve, reject });
      if (queue.length >= MAX_BATCH_PARTS) this.#flush(mailbox);
    });
  }

  #flush(mailbox: string): void {
    const queue = this.#queues.get(mailbox);
    if (!queue?.length) return;
    this.#queues.delete(mailbox);
    for (let i = 0; i < queue.length; i += MAX_BATCH_PARTS) void this.#send(queue.slice(i, i + MAX_BATCH_PARTS), mailbox);
  }

  async #send(parts: Pending[], mailbox: string): Promise<void> {
    if (parts.length === 1) return this.#alone(parts[0]!, false);
    const chains = Math.min(this.#chains, parts.length);
    const requests = parts.map((p, i) => ({
      id: String(i + 1),
      method: 'GET',
      url: p.path,
      // Part i follows part i - chains: `chains` chains side by side.
      ...(i >= chains ? { dependsOn: [String(i + 1 - chains)] } : {}),
    }));
    this.stats.batches++;
    this.stats.parts += parts.length;
    let answer: BatchAnswer;
    try {
      answer = await this.#session.post<BatchAnswer>('/$batch', { requests });
    } catch (error) {
      // The batch itself failed after the governor's retries: credentials are final, and so is
      // a stopped run (the session throws its abort reason, not a SourceError); anything else
      // is tried part by part.
      if (!(error instanceof SourceError) || error.fatalReason) {
        for (const p of parts) p.reject(error);
        return;
      }
      await Promise.all(parts.map((p) => this.#alone(p, true)));
      return;
    }
    const byId = new Map((answer.responses ?? []).map((r) => [String(r.id), r]));
    const again: Pending[] = [];
    for (const [i, p] of parts.entries()) {
      const r = byId.get(String(i + 1));
      if (r?.status === 200 && typeof r.body === 'string') {
        p.resolve(Buffer.from(r.body, 'base64'));
        continue;
      }
      if (r?.status === 404) {
        const body = (r.body ?? {}) as { error?: { code?: string; message?: string } };
        p.reject(
          new SourceError(
            { source: 'graph', code: body.error?.code ?? 'ErrorItemNotFound', message: body.error?.message ?? 'The item was not found.' },
            { status: 404 },
          ),
        );
        continue;
      }
      if (r?.status === 429) {
        const seconds = Number(header(r.headers, 'retry-after'));
        if (Number.isFinite(seconds) && seconds > 0) this.#session.governor.pauseMailbox(mailbox, seconds * 1000);
      }
      again.push(p);
    }
    await Promise.all(again.map((p) => this.#alone(p, true)));
  }

  async #alone(p: Pending, fallback: boolean): Promise<void> {
    if (fallback) this.stats.fallbacks++;
    try {
      p.resolve(await this.#session.bytes(p.path));
    } catch (error) {
      p.reject(error);
    }
  }
}
