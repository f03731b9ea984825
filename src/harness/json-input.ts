/**
 * JSON from outside prestore (scenario files, counterexample files, shard results, a replay
 * line's case): parsed with errors that name the line and column, bounded in depth, and checked
 * against a schema with errors that name the field (`workload[3].offset: must be an integer`).
 */
import type { ErrorObject } from 'ajv';
import { InputError } from '../errors.js';

/**
 * No prestore file nests deeper than a handful of levels; a bound keeps every recursive walk of
 * the value (the syntax scanner below, the schema validator, the messages) off the stack's edge.
 */
export const MAX_JSON_DEPTH = 64;

// --- JSON syntax ---------------------------------------------------------------------------------

/** The value of JSON text; invalid or too deeply nested text throws `InputError` naming `file` and where. */
export function parseJson(text: string, file: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const deep = tooDeepAt(body);
  if (deep !== undefined) {
    const { line, column } = lineColumn(body, deep);
    throw new InputError(`${file}: nested more than ${MAX_JSON_DEPTH} levels deep at line ${line}, column ${column} (position ${deep}): no prestore input nests that deep`);
  }
  try {
    return JSON.parse(body);
  } catch (e) {
    const { position, problem } = jsonSyntaxError(body) ?? { position: 0, problem: (e as Error).message };
    const { line, column } = lineColumn(body, position);
    throw new InputError(`${file}: invalid JSON at line ${line}, column ${column} (position ${position}): ${problem}`);
  }
}

/** Where an array or object opens more than MAX_JSON_DEPTH levels deep, if anywhere: one pass, no recursion. */
function tooDeepAt(text: string): number | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_JSON_DEPTH) return i;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return undefined;
}

function lineColumn(text: string, position: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < position && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      start = i + 1;
    }
  }
  return { line, column: position - start + 1 };
}

/**
 * Finds where JSON text first goes wrong, since JSON.parse does not always say (Node 20 gives a
 * position for some errors and a snippet for others). A strict recursive-descent scan, RFC 8259.
 */
export function jsonSyntaxError(text: string): { position: number; problem: string } | undefined {
  let i = 0;
  class Bad {
    constructor(
      readonly position: number,
      readonly problem: string,
    ) {}
  }
  const describe = (at: number) => (at >= text.length ? 'the end of the file' : `${JSON.stringify(text[at])}`);
  const fail = (problem: string, at = i): never => {
    throw new Bad(at, `${problem}, found ${describe(at)}`);
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const literal = (word: string) => {
    for (let k = 0; k < word.length; k++) if (text[i + k] !== word[k]) fail(`expected ${word}`, i + k);
    i += word.length;
  };
  const string = () => {
    i++; // opening quote
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) fail('control character in a string (escape it)');
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail('bad \\u escape: it needs four hex digits', i + 2);
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else fail('bad escape in a string', i + 1);
      } else i++;
    }
  };
  const digits = () => {
    const from = i;
    while (i < text.length && text[i]! >= '0' && text[i]! <= '9') i++;
    if (i === from) fail('expected a digit');
  };
  const number = () => {
    if (text[i] === '-') i++;
    if (text[i] === '0') i++;
    else digits();
    if (text[i] === '.') {
      i++;
      digits();
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      digits();
    }
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a property name in double quotes');
        string();
        ws();
        if (text[i] !== ':') fail("expected ':' after the property name");
        i++;
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        fail("expected ',' or '}' after a property value");
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        fail("expected ',' or ']' after an array element");
      }
    }
    if (c === '"') return string();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return number();
    fail('expected a value');
  };
  try {
    value();
    ws();
    if (i < text.length) fail('unexpected text after the JSON value');
    return undefined;
  } catch (e) {
    if (e instanceof Bad) return { position: e.position, problem: e.problem };
    throw e;
  }
}

// --- schema errors -------------------------------------------------------------------------------

/** `/workload/3/offset` → `workload[3].offset`. */
export function fieldPath(pointer: string, child?: string): string {
  const parts = pointer === '' ? [] : pointer.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (child !== undefined) parts.push(child);
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out === '' ? p : `.${p}`;
  return out === '' ? '(top level)' : out;
}

function show(value: unknown): string {
  const s = JSON.stringify(value);
  return s === undefined ? String(value) : s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (Number.isInteger(value)) return 'an integer';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

export function schemaErrors(errors: readonly ErrorObject[], file: string): string {
  // A failed oneOf reports every branch; keep the branch whose type matched, else say what fits.
  const oneOfs = errors.filter((e) => e.keyword === 'oneOf');
  const inBranch = (e: ErrorObject, o: ErrorObject) => e !== o && e.schemaPath.startsWith(o.schemaPath.replace(/\/oneOf$/, '/oneOf/'));
  const kept: ErrorObject[] = [];
  for (const e of errors) {
    const parent = oneOfs.find((o) => inBranch(e, o));
    if (parent === undefined) {
      kept.push(e);
      continue;
    }
    const branch = e.schemaPath.slice(parent.schemaPath.length + 1).split('/')[0];
    const typeMismatch = errors.some((t) => t.keyword === 'type' && t.instancePath === parent.instancePath && t.schemaPath === `${parent.schemaPath}/${branch}/type`);
    // Inside the branch whose type fits, a problem deeper down (an item) says more than the
    // oneOf; a problem with the value itself (not one of a branch's words) says less.
    if (!typeMismatch && e.instancePath !== parent.instancePath) kept.push(e);
  }
  const messages: string[] = [];
  for (const e of kept) {
    if (e.keyword === 'oneOf' && kept.some((k) => inBranch(k, e))) continue;
    const m = message(e);
    if (m !== undefined && !messages.includes(m)) messages.push(m);
  }
  return messages
    .slice(0, 12)
    .map((m) => `${file}: ${m}`)
    .join('\n');
}

function message(e: ErrorObject): string | undefined {
  const at = fieldPath(e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return `${fieldPath(e.instancePath, String(p.missingProperty))}: missing (required)`;
    case 'additionalProperties': {
      const allowed = Object.keys(((e.parentSchema as { properties?: object } | undefined)?.properties ?? {}) as object).filter((k) => k !== '$schema');
      return `${fieldPath(e.instancePath, String(p.additionalProperty))}: unknown field${allowed.length > 0 ? ` (expected one of ${allowed.join(', ')})` : ''}`;
    }
    case 'type':
      return `${at}: must be ${article(String(p.type))}, not ${typeName(e.data)} (${show(e.data)})`;
    case 'enum':
      return `${at}: ${show(e.data)} must be one of ${(p.allowedValues as unknown[]).map(show).join(', ')}`;
    case 'const':
      return `${at}: must be ${show(p.allowedValue)}`;
    case 'discriminator': {
      if (p.error === 'tag') return `${fieldPath(e.instancePath, String(p.tag))}: missing (required): the kind of operation`;
      const ops = ((e.parentSchema as { oneOf?: { properties: { op: { const: string } } }[] }).oneOf ?? []).map((b) => b.properties.op.const);
      return `${fieldPath(e.instancePath, String(p.tag))}: unknown op ${show(p.tagValue)} (expected one of ${ops.join(', ')})`;
    }
    case 'oneOf': {
      const titles = ((e.schema as { title?: string }[] | undefined) ?? []).map((b) => b.title).filter((t) => t !== undefined);
      return `${at}: ${show(e.data)} must be ${titles.length > 0 ? titles.join(', or ') : 'exactly one of the allowed forms'}`;
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
    case 'multipleOf':
      return `${at}: ${show(e.data)} ${e.message ?? 'is out of range'}`;
    case 'pattern':
      return `${at}: ${show(e.data)} must match ${String(p.pattern)}${at === 'name' ? ' (lower-case letters, digits and dashes)' : ''}`;
    case 'uniqueItems':
      return `${at}: items ${String(p.j)} and ${String(p.i)} are the same`;
    case 'minItems':
      return `${at}: must have at least ${String(p.limit)} item${p.limit === 1 ? '' : 's'}`;
    default:
      return `${at}: ${e.message ?? 'is invalid'}`;
  }
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

