// The `$filter` subset Entra ID answers on /users and /groups without advanced query parameters:
// `eq` on the filterable properties, `startswith(prop,'x')`, lambda `any` over collections
// (`groupTypes/any(c:c eq 'Unified')`, `assignedLicenses/any(x:x/skuId eq <guid>)`), combined with
// `and`, `or`, `not` and parentheses. Anything else gets the 400 Entra gives: `Request_UnsupportedQuery`
// "Unsupported or invalid query filter clause specified for property '<p>' of resource '<R>'."
// (`ne` and `not` on most properties need `ConsistencyLevel: eventual` and `$count`, which the
// emulator does not implement, so they get that same answer, as Graph gives without them).
import { GraphError } from '../../http/types.ts';

type Literal = string | boolean | null | number;

type Node =
  | { op: 'and' | 'or'; left: Node; right: Node }
  | { op: 'eq'; prop: string; value: Literal }
  | { op: 'startswith'; prop: string; value: string }
  | { op: 'any'; prop: string; sub: string | undefined; value: Literal };

type Token = { t: 'id' | 'str' | 'lit' | 'punct'; v: string };

export interface FilterSchema<T> {
  /** `User`, `Group`: what Entra names in its error message. */
  resource: string;
  /** Filterable scalar properties (lower-case name → value). */
  scalars: Record<string, (item: T) => Literal>;
  /** Filterable collections for `any` (lower-case name → elements). */
  collections?: Record<string, (item: T) => readonly unknown[]>;
}

function invalid(detail: string): GraphError {
  return new GraphError(400, 'BadRequest', `Invalid filter clause: ${detail}`);
}

function unsupported(prop: string, resource: string): GraphError {
  return new GraphError(
    400,
    'Request_UnsupportedQuery',
    `Unsupported or invalid query filter clause specified for property '${prop}' of resource '${resource}'.`,
  );
}

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i] as string;
    if (/\s/.test(ch)) {
      i++;
    } else if ('(),:'.includes(ch)) {
      out.push({ t: 'punct', v: ch });
      i++;
    } else if (ch === "'") {
      let s = '';
      i++;
      for (;;) {
        if (i >= text.length) throw invalid('unterminated string literal.');
        const c = text[i] as string;
        if (c === "'") {
          if (text[i + 1] === "'") {
            s += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        s += c;
        i++;
      }
      out.push({ t: 'str', v: s });
    } else {
      const m = /^[A-Za-z0-9_./@-]+/.exec(text.slice(i));
      if (!m) throw invalid(`syntax error at position ${i}.`);
      const word = m[0];
      out.push({ t: /^[A-Za-z_]/.test(word) ? 'id' : 'lit', v: word });
      i += word.length;
    }
  }
  return out;
}

class Parser {
  private pos = 0;
  private readonly tokens: Token[];
  private readonly resource: string;

  constructor(tokens: Token[], resource: string) {
    this.tokens = tokens;
    this.resource = resource;
  }

  parse(): Node {
    const node = this.or();
    if (this.pos !== this.tokens.length) throw invalid(`syntax error at '${this.tokens[this.pos]?.v ?? ''}'.`);
    return node;
  }

  private peek(): Token | undefined {
    return this.tokens[this.pos];
  }

  private next(): Token {
    const t = this.tokens[this.pos++];
    if (!t) throw invalid('unexpected end of expression.');
    return t;
  }

  private expect(v: string): void {
    const t = this.next();
    if (t.v !== v) throw invalid(`expected '${v}' but found '${t.v}'.`);
  }

  private isWord(word: string): boolean {
    const t = this.peek();
    return t?.t === 'id' && t.v.toLowerCase() === word;
  }

  private or(): Node {
    let left = this.and();
    while (this.isWord('or')) {
      this.pos++;
      left = { op: 'or', left, right: this.and() };
    }
    return left;
  }

  private and(): Node {
    let left = this.unary();
    while (this.isWord('and')) {
      this.pos++;
      left = { op: 'and', left, right: this.unary() };
    }
    return left;
  }

  private unary(): Node {
    const t = this.peek();
    if (t?.v === '(') {
      this.pos++;
      const inner = this.or();
      this.expect(')');
      return inner;
    }
    if (this.isWord('not')) throw unsupported(this.tokens[this.pos + 1]?.v ?? 'not', this.resource);
    return this.clause();
  }

  private literal(): Literal {
    const t = this.next();
    if (t.t === 'str') return t.v;
    if (t.t === 'id' || t.t === 'lit') {
      const lower = t.v.toLowerCase();
      if (lower === 'true') return true;
      if (lower === 'false') return false;
      if (lower === 'null') return null;
      if (/^-?\d+(\.\d+)?$/.test(t.v)) return Number(t.v);
      return t.v; // a GUID literal, unquoted as OData writes it
    }
    throw invalid(`expected a literal but found '${t.v}'.`);
  }

  private clause(): Node {
    const head = this.next();
    if (head.t !== 'id') throw invalid(`expected a property but found '${head.v}'.`);
    const lower = head.v.toLowerCase();
    if (lower === 'startswith' && this.peek()?.v === '(') {
      this.pos++;
      const prop = this.next();
      this.expect(',');
      const value = this.literal();
      this.expect(')');
      if (typeof value !== 'string') throw invalid('startswith needs a string.');
      return { op: 'startswith', prop: prop.v, value };
    }
    const lambda = /^(.+)\/(any|all)$/i.exec(head.v);
    if (lambda && this.peek()?.v === '(') {
      const prop = lambda[1] as string;
      if ((lambda[2] as string).toLowerCase() === 'all') throw unsupported(prop, this.resource);
      this.pos++;
      const variable = this.next().v;
      this.expect(':');
      const target = this.next().v;
      const op = this.next().v.toLowerCase();
      if (op !== 'eq') throw unsupported(prop, this.resource);
      const value = this.literal();
      this.expect(')');
      let sub: string | undefined;
      if (target !== variable) {
        if (!target.startsWith(`${variable}/`)) throw invalid(`unknown lambda variable in '${target}'.`);
        sub = target.slice(variable.length + 1);
      }
      return { op: 'any', prop, sub, value };
    }
    const opToken = this.next();
    const op = opToken.v.toLowerCase();
    if (['ne', 'gt', 'ge', 'lt', 'le', 'in'].includes(op)) throw unsupported(head.v, this.resource);
    if (op !== 'eq') throw invalid(`syntax error at '${opToken.v}'.`);
    return { op: 'eq', prop: head.v, value: this.literal() };
  }
}

function same(a: unknown, b: Literal): boolean {
  if (typeof a === 'string' && typeof b === 'string') return a.toLowerCase() === b.toLowerCase();
  return a === b;
}

export type Predicate<T> = (item: T) => boolean;

/** Compiles `$filter` against a schema; throws the 400s Entra gives. */
export function compileFilter<T>(text: string, schema: FilterSchema<T>): Predicate<T> {
  const node = new Parser(tokenize(text), schema.resource).parse();
  const build = (n: Node): Predicate<T> => {
    switch (n.op) {
      case 'and': {
        const l = build(n.left);
        const r = build(n.right);
        return (x) => l(x) && r(x);
      }
      case 'or': {
        const l = build(n.left);
        const r = build(n.right);
        return (x) => l(x) || r(x);
      }
      case 'eq': {
        const get = schema.scalars[n.prop.toLowerCase()];
        if (!get) throw unsupported(n.prop, schema.resource);
        return (x) => same(get(x), n.value);
      }
      case 'startswith': {
        const get = schema.scalars[n.prop.toLowerCase()];
        if (!get) throw unsupported(n.prop, schema.resource);
        const prefix = n.value.toLowerCase();
        return (x) => {
          const v = get(x);
          return typeof v === 'string' && v.toLowerCase().startsWith(prefix);
        };
      }
      case 'any': {
        const get = schema.collections?.[n.prop.toLowerCase()];
        if (!get) throw unsupported(n.prop, schema.resource);
        const sub = n.sub;
        return (x) =>
          get(x).some((el) => {
            const v = sub === undefined ? el : (el as Record<string, unknown> | null)?.[sub];
            return same(v, n.value);
          });
      }
    }
  };
  return build(node);
}
