/**
 * Reads the prose-free AMQP 0-9-1 specification (spec/amqp0-9-1.stripped.extended.xml)
 * into a small model the code generator works from. The file uses a handful of
 * tags and attributes only, so a tag scanner is enough; no XML dependency.
 */

export interface XmlNode {
  readonly tag: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: XmlNode[];
}

export interface SpecConstant {
  readonly name: string;
  readonly value: number;
  readonly errorClass: 'soft-error' | 'hard-error' | undefined;
}

export interface SpecField {
  readonly name: string;
  /** Wire type after resolving the domain: bit, octet, short, long, longlong, shortstr, longstr, table, timestamp. */
  readonly type: string;
  readonly reserved: boolean;
}

export interface SpecMethod {
  readonly className: string;
  readonly name: string;
  readonly classIndex: number;
  readonly index: number;
  readonly hasContent: boolean;
  readonly synchronous: boolean;
  readonly fields: readonly SpecField[];
}

export interface SpecClass {
  readonly name: string;
  readonly index: number;
  readonly methods: readonly SpecMethod[];
  /** Content properties (only basic has any in 0-9-1). */
  readonly properties: readonly SpecField[];
}

export interface Spec {
  readonly major: number;
  readonly minor: number;
  readonly revision: number;
  readonly port: number;
  readonly constants: readonly SpecConstant[];
  readonly classes: readonly SpecClass[];
}

export function parseXml(text: string): XmlNode {
  const withoutComments = text.replace(/<!--[\s\S]*?-->/g, '').replace(/<\?[\s\S]*?\?>/g, '');
  const root: XmlNode = { tag: '#root', attrs: {}, children: [] };
  const stack: XmlNode[] = [root];
  const tagPattern = /<(\/?)([\w-]+)([^>]*?)(\/?)>/g;
  for (const match of withoutComments.matchAll(tagPattern)) {
    const [, closing, tag = '', attrText = '', selfClosing] = match;
    if (closing) {
      const open = stack.pop();
      if (open?.tag !== tag) throw new Error(`unbalanced </${tag}> in the specification`);
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const [, key = '', value = ''] of attrText.matchAll(/([\w-]+)="([^"]*)"/g)) attrs[key] = value;
    const node: XmlNode = { tag, attrs, children: [] };
    stack[stack.length - 1]!.children.push(node);
    if (!selfClosing) stack.push(node);
  }
  if (stack.length !== 1) throw new Error('unclosed element in the specification');
  return root;
}

function required(node: XmlNode, attr: string): string {
  const value = node.attrs[attr];
  if (value === undefined) throw new Error(`<${node.tag}> lacks attribute ${attr}`);
  return value;
}

export function readSpec(xmlText: string): Spec {
  const amqp = parseXml(xmlText).children.find((n) => n.tag === 'amqp');
  if (!amqp) throw new Error('no <amqp> element in the specification');

  const domains = new Map<string, string>();
  for (const d of amqp.children.filter((n) => n.tag === 'domain')) {
    domains.set(required(d, 'name'), required(d, 'type'));
  }
  const fieldOf = (f: XmlNode): SpecField => {
    const type = f.attrs['type'] ?? domains.get(required(f, 'domain'));
    if (type === undefined) throw new Error(`field ${f.attrs['name']} has an unknown domain`);
    return { name: required(f, 'name'), type, reserved: f.attrs['reserved'] === '1' };
  };

  const constants = amqp.children
    .filter((n) => n.tag === 'constant')
    .map((c) => ({
      name: required(c, 'name'),
      value: Number(required(c, 'value')),
      errorClass: c.attrs['class'] as SpecConstant['errorClass'],
    }));

  const classes = amqp.children
    .filter((n) => n.tag === 'class')
    .map((c): SpecClass => {
      const className = required(c, 'name');
      const classIndex = Number(required(c, 'index'));
      return {
        name: className,
        index: classIndex,
        properties: c.children.filter((n) => n.tag === 'field').map(fieldOf),
        methods: c.children
          .filter((n) => n.tag === 'method')
          .map((m) => ({
            className,
            name: required(m, 'name'),
            classIndex,
            index: Number(required(m, 'index')),
            hasContent: m.attrs['content'] === '1',
            synchronous: m.attrs['synchronous'] === '1',
            fields: m.children.filter((n) => n.tag === 'field').map(fieldOf),
          })),
      };
    });

  return {
    major: Number(required(amqp, 'major')),
    minor: Number(required(amqp, 'minor')),
    revision: Number(required(amqp, 'revision')),
    port: Number(required(amqp, 'port')),
    constants,
    classes,
  };
}
