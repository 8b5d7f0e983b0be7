// Faults on demand. A rule matches requests by route kind, method and a path pattern (an item id
// is enough to single out one object), fires a given number of times or forever, with a
// probability, and answers with one of the failures real tenants show.
export type FaultKind =
  /** 500/503/504 with Graph's error body (transient unless `times` is unset). */
  | 'status500'
  | 'status503'
  | 'status504'
  /** The connection is destroyed before any response. */
  | 'reset'
  /** The response is delayed by `delayMs`, then served normally. */
  | 'slow'
  /**
   * 429 ApplicationThrottled with `Retry-After: retryAfterSeconds` (1 when absent), as the
   * throttle answers, but on demand: one mailbox or one item held back for as long as a test needs.
   */
  | 'throttled'
  /** A 200 whose JSON body is cut in the middle. */
  | 'malformedJson'
  /** 404 as if the object was deleted between the list and the get. */
  | 'notFound'
  /** Any status, code and message (`status`, `code`, `message`): an object that always fails. */
  | 'error';

export interface FaultRule {
  kind: FaultKind;
  /** Route kind (`mail.mime`, `drive.content`...); any when absent. */
  routeKind?: string;
  method?: string;
  /** A regular expression tested against the request path; any when absent. */
  path?: string;
  /** How many more times the rule fires; forever when absent. */
  times?: number;
  /** Chance (0..1) that a matching request is hit; 1 when absent. */
  probability?: number;
  delayMs?: number;
  /** For `throttled`: the Retry-After to send, seconds. */
  retryAfterSeconds?: number;
  status?: number;
  code?: string;
  message?: string;
}

export interface FaultHit {
  rule: FaultRule;
}

export class Faults {
  #rules: { rule: FaultRule; pattern?: RegExp }[] = [];
  /** How many times each rule fired, in the order added. */
  readonly fired: number[] = [];

  add(rule: FaultRule): number {
    this.#rules.push({ rule: { ...rule }, ...(rule.path ? { pattern: new RegExp(rule.path) } : {}) });
    this.fired.push(0);
    return this.#rules.length - 1;
  }

  clear(): void {
    this.#rules = [];
    this.fired.length = 0;
  }

  /** The first rule that fires for this request, if any (consuming one of its `times`). */
  match(routeKind: string, method: string, path: string): FaultRule | undefined {
    for (let i = 0; i < this.#rules.length; i++) {
      const { rule, pattern } = this.#rules[i] as { rule: FaultRule; pattern?: RegExp };
      if (rule.times !== undefined && rule.times <= 0) continue;
      if (rule.routeKind && rule.routeKind !== routeKind) continue;
      if (rule.method && rule.method.toUpperCase() !== method) continue;
      if (pattern && !pattern.test(path)) continue;
      if (rule.probability !== undefined && Math.random() >= rule.probability) continue;
      if (rule.times !== undefined) rule.times--;
      this.fired[i] = (this.fired[i] ?? 0) + 1;
      return rule;
    }
    return undefined;
  }
}
