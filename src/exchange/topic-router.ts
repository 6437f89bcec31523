import type { FieldTable } from '../protocol/field-value.js';
import { BindingSet } from './binding-set.js';
import type { Binding, DestinationSink, ExchangeRouter } from './exchange-router.js';
import { normalizeBindingWords, splitTopicKey, type TopicNode, TopicTrie } from './topic-trie.js';

export interface TopicRouterOptions {
  /** Routing keys whose result is remembered until the next bind/unbind; 0 disables the cache. */
  readonly cacheSize?: number;
}

const DEFAULT_CACHE_SIZE = 1024;

/**
 * Topic exchange: binding keys are '.'-separated words where '*' matches
 * exactly one word and '#' zero or more, over a word trie.
 *
 * Publishers tend to reuse a few routing keys, so results are cached per key
 * (first in, first out); any binding change empties the cache, which keeps
 * it trivially correct.
 */
export class TopicRouter<D> implements ExchangeRouter<D> {
  private readonly trie = new TopicTrie<D>();
  /** Reverse index, so deleting a queue visits only the nodes it is bound at. */
  private readonly nodesByDestination = new Map<D, Set<TopicNode<D>>>();
  private readonly cache = new Map<string, readonly D[]>();
  private readonly cacheSize: number;
  private readonly scratch = new Set<D>();
  private count = 0;
  readonly readsHeaders = false;

  constructor(options: TopicRouterOptions = {}) {
    this.cacheSize = options.cacheSize ?? DEFAULT_CACHE_SIZE;
  }

  get bindingCount(): number {
    return this.count;
  }

  bind(destination: D, routingKey: string, args: FieldTable): boolean {
    const node = this.trie.nodeFor(normalizeBindingWords(splitTopicKey(routingKey)));
    const set = (node.bindings ??= new BindingSet<D>());
    if (!set.add(destination, routingKey, args)) return false;
    let nodes = this.nodesByDestination.get(destination);
    if (nodes === undefined) {
      nodes = new Set();
      this.nodesByDestination.set(destination, nodes);
    }
    nodes.add(node);
    this.count++;
    this.cache.clear();
    return true;
  }

  unbind(destination: D, routingKey: string, args: FieldTable): boolean {
    const node = this.trie.find(normalizeBindingWords(splitTopicKey(routingKey)));
    const set = node?.bindings;
    if (node === undefined || set === undefined || !set.remove(destination, routingKey, args)) return false;
    this.count--;
    if (!set.has(destination)) {
      const nodes = this.nodesByDestination.get(destination);
      nodes?.delete(node);
      if (nodes?.size === 0) this.nodesByDestination.delete(destination);
    }
    this.release(node);
    this.cache.clear();
    return true;
  }

  unbindDestination(destination: D): number {
    const nodes = this.nodesByDestination.get(destination);
    if (nodes === undefined) return 0;
    this.nodesByDestination.delete(destination);
    let removed = 0;
    for (const node of nodes) {
      removed += node.bindings?.removeDestination(destination) ?? 0;
      this.release(node);
    }
    this.count -= removed;
    this.cache.clear();
    return removed;
  }

  route(routingKey: string, _headers: FieldTable | undefined, out: DestinationSink<D>): boolean {
    if (this.count === 0) return false;
    const cached = this.cache.get(routingKey);
    if (cached !== undefined) {
      for (let i = 0; i < cached.length; i++) out.add(cached[i]!);
      return cached.length > 0;
    }
    const words = splitTopicKey(routingKey);
    if (this.cacheSize <= 0) return this.trie.match(words, out);
    // A miss computes this key's destinations alone (out may already hold
    // others), stores them, then adds them.
    const found = this.scratch;
    found.clear();
    this.trie.match(words, found);
    const destinations = [...found];
    found.clear();
    if (this.cache.size >= this.cacheSize) {
      const oldest = this.cache.keys().next();
      if (oldest.done !== true) this.cache.delete(oldest.value);
    }
    this.cache.set(routingKey, destinations);
    for (let i = 0; i < destinations.length; i++) out.add(destinations[i]!);
    return destinations.length > 0;
  }

  validateBinding(): string | undefined {
    return undefined;
  }

  *bindings(): IterableIterator<Binding<D>> {
    for (const node of this.trie.nodesWithBindings()) yield* node.bindings!.bindings();
  }

  private release(node: TopicNode<D>): void {
    if (node.bindings?.isEmpty === true) node.bindings = undefined;
    this.trie.prune(node);
  }
}
