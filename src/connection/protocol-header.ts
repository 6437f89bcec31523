/**
 * Collects the 8-byte protocol header a client opens with, across however
 * many chunks it arrives in.
 */
export class ProtocolHeader {
  static readonly SUPPORTED = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]); // "AMQP" 0 0 9 1
  /** AMQP 0-9's header, which RabbitMQ also accepts as 0-9-1: the two are close enough for clients. */
  private static readonly LEGACY_0_9 = Buffer.from([0x41, 0x4d, 0x51, 0x50, 1, 1, 0, 9]);

  private readonly bytes = Buffer.alloc(8);
  private received = 0;

  /** Adds bytes; returns what follows the header once it is complete, else undefined. */
  push(chunk: Buffer): Buffer | undefined {
    const take = Math.min(8 - this.received, chunk.length);
    chunk.copy(this.bytes, this.received, 0, take);
    this.received += take;
    return this.received === 8 ? chunk.subarray(take) : undefined;
  }

  get valid(): boolean {
    return this.bytes.equals(ProtocolHeader.SUPPORTED) || this.bytes.equals(ProtocolHeader.LEGACY_0_9);
  }
}
