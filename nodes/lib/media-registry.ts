/**
 * The result files the editor's Ovi sidebar may play: an output node wrote each one (a `file`
 * JobEvent gives its absolute path). The editor only ever names a file by an unguessable id from
 * here; a path from a client is never read. Bounded: the oldest entries go first.
 */
import { randomBytes } from 'crypto';

/** 16 random bytes, base64url: 22 characters. */
const ID_RE = /^[A-Za-z0-9_-]{22}$/;

export class MediaRegistry {
  private readonly files = new Map<string, string>();

  constructor(private readonly max = 500) {}

  /** Register a file this package wrote; returns the id the editor may ask for. */
  add(file: string): string {
    const id = randomBytes(16).toString('base64url');
    this.files.set(id, file);
    while (this.files.size > this.max) this.files.delete(this.files.keys().next().value as string);
    return id;
  }

  get(id: unknown): string | undefined {
    return typeof id === 'string' && ID_RE.test(id) ? this.files.get(id) : undefined;
  }

  forget(id: string | undefined): void {
    if (id) this.files.delete(id);
  }

  get size(): number {
    return this.files.size;
  }
}
