/**
 * The shader template: the only text processing WGSL gets before compilation. Three rules
 * (shaders/README.md):
 *   //#include "name.wgsl"        replaced by that shader's text (each file at most once)
 *   //#include "name.wgsl" K=v    with arguments: the file's {{K}} replaced by v first (an argument
 *                                 the file does not use throws); included once per distinct arguments
 *   {{NAME}}                      replaced by slots[NAME]; a missing or an unused key throws
 *   //#repeat VAR COUNT ... //#end   the block repeated COUNT times (COUNT a number or a {{SLOT}}),
 *                                 with {{VAR}} replaced by 0..COUNT-1; blocks nest
 * Everything else is plain WGSL.
 */
import { SHADERS } from './shaders.generated.js';

export type Slots = Readonly<Record<string, string | number>>;

/** The raw text of a shader file (without extension), or a clear error. */
export function shaderText(name: string, sources: Readonly<Record<string, string>> = SHADERS): string {
  const src = sources[name];
  if (src === undefined) throw new Error(`shader '${name}' not found (known: ${Object.keys(sources).join(', ')})`);
  return src;
}

function expandIncludes(name: string, sources: Readonly<Record<string, string>>, seen: Set<string>, args: Slots = {}): string {
  seen.add(Object.keys(args).length ? `${name} ${JSON.stringify(args)}` : name);
  let text = shaderText(name, sources);
  for (const [k, v] of Object.entries(args)) {
    if (!text.includes(`{{${k}}}`)) throw new Error(`shader template: //#include "${name}.wgsl" argument ${k} is not used by that file`);
    text = text.replaceAll(`{{${k}}}`, String(v));
  }
  return text.replace(/^[ \t]*\/\/#include\s+"([\w.-]+)\.wgsl"(.*)$/gm, (_m, inc: string, rest: string) => {
    const incArgs: Record<string, string> = {};
    for (const tok of rest.trim() ? rest.trim().split(/\s+/) : []) {
      const a = /^(\w+)=(\S+)$/.exec(tok);
      if (!a) throw new Error(`shader template: //#include "${inc}.wgsl": cannot read argument '${tok}' (KEY=value)`);
      incArgs[a[1]] = a[2];
    }
    const key = Object.keys(incArgs).length ? `${inc} ${JSON.stringify(incArgs)}` : inc;
    if (seen.has(key)) return `// (${inc}.wgsl already included)`;
    return expandIncludes(inc, sources, seen, incArgs);
  });
}

function expandRepeats(text: string, slots: Slots, used: Set<string>): string {
  const lines = text.split('\n');
  const out: string[] = [];
  let i = 0;
  const block = (start: number): { body: string[]; end: number } => {
    const body: string[] = [];
    let depth = 0;
    for (let j = start; j < lines.length; j++) {
      const l = lines[j];
      if (/^\s*\/\/#repeat\b/.test(l)) depth++;
      if (/^\s*\/\/#end\b/.test(l)) {
        if (depth === 0) return { body, end: j };
        depth--;
      }
      body.push(l);
    }
    throw new Error(`shader template: //#repeat without //#end`);
  };
  while (i < lines.length) {
    const m = /^\s*\/\/#repeat\s+(\w+)\s+(\S+)\s*$/.exec(lines[i]);
    if (!m) {
      if (/^\s*\/\/#end\b/.test(lines[i])) throw new Error('shader template: //#end without //#repeat');
      out.push(lines[i++]);
      continue;
    }
    const [, v, countText] = m;
    let count: number;
    const slot = /^\{\{(\w+)\}\}$/.exec(countText);
    if (slot) {
      if (!(slot[1] in slots)) throw new Error(`shader template: missing slot '${slot[1]}' (repeat count)`);
      used.add(slot[1]);
      count = Number(slots[slot[1]]);
    } else count = Number(countText);
    if (!Number.isInteger(count) || count < 0) throw new Error(`shader template: bad repeat count '${countText}'`);
    const { body, end } = block(i + 1);
    const inner = body.join('\n');
    for (let k = 0; k < count; k++) {
      out.push(expandRepeats(inner.replaceAll(`{{${v}}}`, String(k)), slots, used));
    }
    i = end + 1;
  }
  return out.join('\n');
}

/** Renders shader `name` with `slots`: includes, repeats, then slot substitution. */
export function renderShader(
  name: string,
  slots: Slots = {},
  sources: Readonly<Record<string, string>> = SHADERS,
): string {
  const used = new Set<string>();
  let text = expandIncludes(name, sources, new Set());
  text = expandRepeats(text, slots, used);
  text = text.replace(/\{\{(\w+)\}\}/g, (_m, key: string) => {
    if (!(key in slots)) throw new Error(`shader '${name}': missing slot '${key}'`);
    used.add(key);
    return String(slots[key]);
  });
  const unused = Object.keys(slots).filter((k) => !used.has(k));
  if (unused.length) throw new Error(`shader '${name}': unused slot(s) ${unused.join(', ')}`);
  return text;
}
