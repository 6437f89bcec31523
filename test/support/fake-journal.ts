import type { Message } from '../../src/queue/message.js';
import type { PageSource } from '../../src/queue/ready-list.js';
import type { StoredLocation } from '../../src/store/journal.js';

/**
 * Stands in for the journal as a ready list's page source in unit tests of
 * the ready lists: messages by location, and how many were read back.
 */
export class FakeJournal implements PageSource {
  readonly stored = new Map<string, Message>();
  reads = 0;

  load(location: StoredLocation): Message {
    this.reads++;
    const m = this.stored.get(`${location.segment}:${location.offset}`);
    if (m === undefined) throw new Error('not stored');
    return m;
  }
}
