import { BindingSet } from './binding-set.js';
import { emptyArray } from './empty-array.js';
import type { DestinationSink } from './exchange-router.js';

/** One trie node: the path from the root spells a (normalised) binding key. */
export class TopicNode<D> {
  /** Literal-word edges. '*' and '#' in a binding key are never literal, so they get their own fields. */
  children: Map<string, TopicNode<D>> | undefined;
  star: TopicNode<D> | undefined;
  hash: TopicNode<D> | undefined;
  bindings: BindingSet<D> | undefined;
  /** Last match step that reached this node: de-duplicates the active state list without a Set. */
  stamp = 0;

  constructor(
    readonly parent: TopicNode<D> | undefined,
    readonly word: string,
    /** Reached through a '#' edge: it absorbs any number of further words. */
    readonly isHash: boolean,
  ) {}

  get isLeafless(): boolean {
    return (
      (this.bindings === undefined || this.bindings.isEmpty) &&
      (this.children === undefined || this.children.size === 0) &&
      this.star === undefined &&
      this.hash === undefined
    );
  }
}

const NO_WORDS: readonly string[] = [];

/**
 * Splits a routing or binding key into words as RabbitMQ does: the empty
 * key has no words at all, while every '.' separates words, so "a..b" has an
 * empty middle word and "a." ends with one.
 */
export function splitTopicKey(key: string): readonly string[] {
  return key === '' ? NO_WORDS : key.split('.');
}

/**
 * Rewrites every run of wildcards as its '*'s followed by at most one '#'.
 * A run of k '*' and at least one '#' matches "k or more words" whatever its
 * order, so "#.#" is "#" and "#.*" is "*.#". This keeps '#' nodes from having
 * '#' or '*' children, which bounds the matcher's work.
 */
export function normalizeBindingWords(words: readonly string[]): string[] {
  const out: string[] = [];
  let stars = 0;
  let hash = false;
  const flush = (): void => {
    for (; stars > 0; stars--) out.push('*');
    if (hash) out.push('#');
    hash = false;
  };
  for (const w of words) {
    if (w === '*') stars++;
    else if (w === '#') hash = true;
    else {
      flush();
      out.push(w);
    }
  }
  flush();
  return out;
}

/**
 * Word trie over binding keys. Matching simulates the trie as an automaton
 * one routing-key word at a time, keeping the set of live nodes: the work is
 * bounded by words x live nodes, never by bindings that cannot match, and
 * never exponential in the number of '#' (a backtracking walk is).
 */
export class TopicTrie<D> {
  readonly root = new TopicNode<D>(undefined, '', false);
  private current: TopicNode<D>[] = [];
  private next: TopicNode<D>[] = [];
  private step = 0;

  /** The node for normalised binding words, created as needed. */
  nodeFor(words: readonly string[]): TopicNode<D> {
    let node = this.root;
    for (const w of words) {
      if (w === '*') node = node.star ??= new TopicNode(node, w, false);
      else if (w === '#') node = node.hash ??= new TopicNode(node, w, true);
      else {
        const children = (node.children ??= new Map());
        let child = children.get(w);
        if (child === undefined) {
          child = new TopicNode(node, w, false);
          children.set(w, child);
        }
        node = child;
      }
    }
    return node;
  }

  /** The node for normalised binding words, if it exists. */
  find(words: readonly string[]): TopicNode<D> | undefined {
    let node: TopicNode<D> | undefined = this.root;
    for (let i = 0; i < words.length && node !== undefined; i++) {
      const w = words[i]!;
      node = w === '*' ? node.star : w === '#' ? node.hash : node.children?.get(w);
    }
    return node;
  }

  /** Removes the node and its ancestors once they hold neither bindings nor children. */
  prune(node: TopicNode<D>): void {
    let n = node;
    while (n.parent !== undefined && n.isLeafless) {
      const parent: TopicNode<D> = n.parent;
      if (parent.star === n) parent.star = undefined;
      else if (parent.hash === n) parent.hash = undefined;
      else parent.children?.delete(n.word);
      n = parent;
    }
  }

  /** Adds the destinations of every binding matching the routing key's words; returns whether there was any. */
  match(words: readonly string[], out: DestinationSink<D>): boolean {
    let current = this.current;
    let next = this.next;
    emptyArray(current);
    this.enter(this.root, current, ++this.step);
    for (let w = 0; w < words.length && current.length > 0; w++) {
      const word = words[w]!;
      const stamp = ++this.step;
      emptyArray(next);
      for (let i = 0; i < current.length; i++) {
        const node = current[i]!;
        if (node.isHash) this.enter(node, next, stamp);
        const child = node.children?.get(word);
        if (child !== undefined) this.enter(child, next, stamp);
        if (node.star !== undefined) this.enter(node.star, next, stamp);
      }
      const swap = current;
      current = next;
      next = swap;
    }
    let matched = false;
    for (let i = 0; i < current.length; i++) {
      if (current[i]!.bindings?.addDestinationsTo(out) === true) matched = true;
    }
    // Keep the two scratch arrays for the next call, emptied so they pin no nodes.
    emptyArray(current);
    emptyArray(next);
    this.current = current;
    this.next = next;
    return matched;
  }

  /** Adds the node and, since '#' may match zero words, its '#' child. */
  private enter(node: TopicNode<D>, list: TopicNode<D>[], stamp: number): void {
    for (let n: TopicNode<D> | undefined = node; n !== undefined && n.stamp !== stamp; n = n.hash) {
      n.stamp = stamp;
      list.push(n);
    }
  }

  /** Every node holding bindings, depth first. */
  *nodesWithBindings(): IterableIterator<TopicNode<D>> {
    const stack: TopicNode<D>[] = [this.root];
    for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
      if (node.bindings !== undefined && !node.bindings.isEmpty) yield node;
      if (node.children !== undefined) for (const child of node.children.values()) stack.push(child);
      if (node.star !== undefined) stack.push(node.star);
      if (node.hash !== undefined) stack.push(node.hash);
    }
  }
}
