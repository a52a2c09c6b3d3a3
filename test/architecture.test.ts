/**
 * The architecture rules of design.md, kept by a test (issue 17): no import cycle in src/, and
 * dependencies point inwards, slack/ -> requests/ -> dkim/ (never back). The imports are read
 * from the source text (import, import type, export … from, import("…")), relative ones only:
 * packages are not part of the rule.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), "../src");

/**
 * Each part of src/ and its rank: a module may import modules of its own part, or of a part of
 * a lower rank. slack/ -> requests/ -> dkim/ is the spine; the shared leaves (errors.ts) are at
 * the bottom, the composition roots (main.ts, cli.ts) at the top. config.ts, logger.ts and
 * keep-running.ts serve slack/ and main.ts and may use requests/ (the encryption key's
 * parsing, the redactor) but not the other way round.
 */
const RANKS: Readonly<Record<string, number>> = {
  "errors.ts": 0,
  dkim: 1,
  net: 1,
  spamexperts: 2,
  "dns-publish": 2,
  requests: 3,
  "config.ts": 4,
  "logger.ts": 5,
  "keep-running.ts": 6,
  slack: 7,
  cli: 8,
  "main.ts": 8,
  "cli.ts": 9,
};

/** The part of src/ a file belongs to: its top folder, or the file itself at the top. */
function partOf(file: string): string {
  return file.split("/")[0] ?? file;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [path] : [];
  });
}

/** The relative module specifiers a TypeScript source imports or re-exports. */
function importedSpecifiers(source: string): string[] {
  // Comments could hold example imports; strings are left as they are (a specifier is one).
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
  const found: string[] = [];
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?[^"'`;]*?\bfrom\s*["']([^"']+)["']/g,
    /\bimport\s*["']([^"']+)["']/g,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (const match of code.matchAll(pattern)) {
      const specifier = match[1];
      if (specifier?.startsWith(".")) found.push(specifier);
    }
  }
  return found;
}

/** The import graph of src/: file (relative to src/, `/` separated) -> files it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const path of sourceFiles(SRC)) {
    const from = relative(SRC, path).split("\\").join("/");
    const targets = importedSpecifiers(readFileSync(path, "utf8")).map((specifier) =>
      relative(SRC, resolve(dirname(path), specifier.replace(/\.js$/, ".ts")))
        .split("\\")
        .join("/"),
    );
    graph.set(from, [...new Set(targets)]);
  }
  return graph;
}

/** Every cycle of the graph, one per strongly connected component (Tarjan), as a path. */
function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];

  function visit(node: string): void {
    index.set(node, counter);
    low.set(node, counter);
    counter++;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(next) ?? 0));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node) ?? 0, index.get(next) ?? 0));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string | undefined;
      do {
        member = stack.pop();
        if (member === undefined) break;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      const selfLoop = (graph.get(node) ?? []).includes(node);
      if (component.length > 1 || selfLoop) components.push(component);
    }
  }
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return components.map((component) => cyclePath(graph, new Set(component)));
}

/** A readable cycle inside a strongly connected component: a -> b -> … -> a. */
function cyclePath(graph: ReadonlyMap<string, readonly string[]>, members: Set<string>): string[] {
  const start = [...members].sort()[0] ?? "";
  // Breadth-first from start back to start, within the component: the shortest loop.
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift() ?? "";
    for (const next of graph.get(node) ?? []) {
      if (!members.has(next)) continue;
      if (next === start) {
        const path = [start];
        for (let at = node; at !== start; at = previous.get(at) ?? start) path.splice(1, 0, at);
        if (node !== start) return [...path, start];
        return [start, start];
      }
      if (!previous.has(next)) {
        previous.set(next, node);
        queue.push(next);
      }
    }
  }
  return [...members];
}

/** Imports that point outwards (to a higher rank), or into a part the rules do not know. */
function wrongWayImports(
  graph: ReadonlyMap<string, readonly string[]>,
  ranks: Readonly<Record<string, number>>,
): string[] {
  const wrong: string[] = [];
  for (const [from, targets] of graph) {
    for (const to of targets) {
      const [a, b] = [partOf(from), partOf(to)];
      if (a === b) continue;
      const [rankA, rankB] = [ranks[a], ranks[b]];
      if (rankA === undefined || rankB === undefined) {
        wrong.push(`${from} -> ${to} (${rankA === undefined ? a : b} has no place in the rules)`);
      } else if (rankB >= rankA) {
        wrong.push(`${from} -> ${to} (${a} must not depend on ${b})`);
      }
    }
  }
  return wrong.sort();
}

describe("the import graph of src/", () => {
  const graph = importGraph();

  it("is read whole: the spine's imports are there, and every import resolves to a file", () => {
    const edges = [...graph].flatMap(([from, targets]) => targets.map((to) => [from, to]));
    expect(
      edges.some(([from, to]) => partOf(from ?? "") === "slack" && partOf(to ?? "") === "requests"),
    ).toBe(true);
    expect(
      edges.some(([from, to]) => partOf(from ?? "") === "requests" && partOf(to ?? "") === "dkim"),
    ).toBe(true);
    expect(graph.get("cli.ts")).toContain("main.ts"); // the dynamic import("./main.js")
    const unresolved = edges
      .filter(([, to]) => !graph.has(to ?? ""))
      .map(([f, t]) => `${f} -> ${t}`);
    expect(unresolved).toEqual([]);
  });

  it("has no import cycle", () => {
    const cycles = findCycles(graph).map((cycle) => cycle.join(" -> "));
    expect(cycles, `import cycles in src/:\n${cycles.join("\n")}`).toEqual([]);
  });

  it("points inwards: slack/ -> requests/ -> dkim/, never back", () => {
    const parts = new Set([...graph.keys()].map(partOf));
    expect([...parts].filter((part) => RANKS[part] === undefined)).toEqual([]);
    const wrong = wrongWayImports(graph, RANKS);
    expect(wrong, `imports against design.md's direction:\n${wrong.join("\n")}`).toEqual([]);
  });
});

describe("the checks themselves", () => {
  it("read every form of import, and skip packages and comments", () => {
    const source = [
      'import { a } from "./a.js";',
      'import type { B } from "../b.js";',
      'export { c } from "./c.js";',
      'export * from "./d.js";',
      'import "./e.js";',
      'const f = await import("./f.js");',
      'import {\n  g,\n  type H,\n} from "./g.js";',
      'import pg from "pg";',
      '// import { x } from "./commented.js";',
      '/* import { y } from "./block.js"; */',
    ].join("\n");
    expect(importedSpecifiers(source).sort()).toEqual(
      ["./a.js", "../b.js", "./c.js", "./d.js", "./e.js", "./f.js", "./g.js"].sort(),
    );
  });

  it("find a cycle and name it, and a wrong-way import", () => {
    const graph = new Map([
      ["dkim/a.ts", ["dkim/b.ts"]],
      ["dkim/b.ts", ["dkim/c.ts"]],
      ["dkim/c.ts", ["dkim/a.ts", "slack/x.ts"]],
      ["slack/x.ts", ["requests/y.ts"]],
      ["requests/y.ts", []],
    ]);
    expect(findCycles(graph)).toEqual([["dkim/a.ts", "dkim/b.ts", "dkim/c.ts", "dkim/a.ts"]]);
    expect(wrongWayImports(graph, RANKS)).toEqual([
      "dkim/c.ts -> slack/x.ts (dkim must not depend on slack)",
    ]);
  });
});
