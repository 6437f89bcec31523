import type * as amqp from 'amqplib';
import { MethodId } from '../../src/protocol/generated/amqp-methods.js';

/**
 * Methods amqplib's API does not offer (tx, channel.flow) or only with fixed
 * arguments (qos prefetch_size, publish immediate, recover requeue), sent
 * through amqplib's own untyped rpc/sendMessage so they travel over the same
 * client as everything else in a test.
 */
interface RawChannel {
  rpc(method: number, fields: object, expect: number): Promise<Record<string, unknown>>;
  sendMessage(fields: object, properties: object, content: Buffer): boolean;
}

const raw = (channel: amqp.Channel): RawChannel => channel as unknown as RawChannel;

export const txSelect = (channel: amqp.Channel): Promise<unknown> => raw(channel).rpc(MethodId.TxSelect, {}, MethodId.TxSelectOk);
export const txCommit = (channel: amqp.Channel): Promise<unknown> => raw(channel).rpc(MethodId.TxCommit, {}, MethodId.TxCommitOk);
export const txRollback = (channel: amqp.Channel): Promise<unknown> => raw(channel).rpc(MethodId.TxRollback, {}, MethodId.TxRollbackOk);

export const confirmSelect = (channel: amqp.Channel): Promise<unknown> =>
  raw(channel).rpc(MethodId.ConfirmSelect, { nowait: false }, MethodId.ConfirmSelectOk);

export const channelFlow = (channel: amqp.Channel, active: boolean): Promise<Record<string, unknown>> =>
  raw(channel).rpc(MethodId.ChannelFlow, { active }, MethodId.ChannelFlowOk);

export const qosWithSize = (channel: amqp.Channel, prefetchSize: number, prefetchCount: number): Promise<unknown> =>
  raw(channel).rpc(MethodId.BasicQos, { prefetchSize, prefetchCount, global: false }, MethodId.BasicQosOk);

export const recover = (channel: amqp.Channel, requeue: boolean): Promise<unknown> =>
  raw(channel).rpc(MethodId.BasicRecover, { requeue }, MethodId.BasicRecoverOk);

/** basic.publish with immediate=true, which amqplib always sends as false. */
export function publishImmediate(channel: amqp.Channel, routingKey: string, content: Buffer): void {
  raw(channel).sendMessage({ ticket: 0, exchange: '', routingKey, mandatory: false, immediate: true }, {}, content);
}
