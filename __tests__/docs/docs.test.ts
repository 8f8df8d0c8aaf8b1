/**
 * Docs that cannot drift: every command in the README's and docs/'s shell blocks names a script, an
 * option and a sub-command that exist; every relative link (and its #anchor) resolves; `help` lists
 * the commands of the README's Commands table. The checks are functions, each also shown to fail.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { OPTIONS as START_OPTIONS } from "../../offline/cli/command";
import { ORDERS_COMMANDS, parseOrdersArgs } from "../../operator/orders";
import { PIPELINE_DEFAULTS, visibilityTimeoutFor } from "../../constructs/settings";
import { PROJECT_ROOT } from "../support/paths";

const SCRIPTS = Object.keys(JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")).scripts);
const DOCS = [
  "README.md",
  ...fs
    .readdirSync(path.join(PROJECT_ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];
const read = (file: string) => fs.readFileSync(path.join(PROJECT_ROOT, file), "utf8");

/** The fenced shell blocks of a Markdown text, line by line. */
function shellLines(markdown: string): string[] {
  return [...markdown.matchAll(/```(?:sh|bash|shell)\n([\s\S]*?)```/g)].flatMap((m) => m[1].split("\n"));
}

/** Long options (`--name`) among words; `--` itself ends nothing here. */
const longOptions = (words: string[]) => words.filter((w) => /^--[a-z]/.test(w)).map((w) => w.slice(2));

/** What is wrong with the commands of one shell line: unknown scripts, options and sub-commands. */
export function commandProblems(line: string): string[] {
  const problems: string[] = [];
  for (const [, script] of line.matchAll(/\bnpm run (?:--silent )?([\w:-]+)/g))
    if (!SCRIPTS.includes(script)) problems.push(`npm run ${script}: no such script in package.json`);
  const start = /\bnpm start(?: --silent)? -- (.*)$/.exec(line);
  if (start) {
    for (const option of longOptions(start[1].split(/\s+/)))
      if (!(option in START_OPTIONS)) problems.push(`npm start -- --${option}: not an option of npm start`);
  }
  const orders = /\bnpm run orders(?: --silent)? -- (.*)$/.exec(line);
  if (orders) {
    // As the orders CLI reads it; a placeholder such as <file|-> stands for a word.
    const words = orders[1].split("#")[0].trim().split(/\s+/).filter(Boolean);
    if (!words.some((w) => w.startsWith("<"))) {
      try {
        parseOrdersArgs(words);
      } catch (error) {
        problems.push(`npm run orders -- ${words.join(" ")}: ${(error as Error).message}`);
      }
    }
  }
  return problems;
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, each space a hyphen. */
export function anchorOf(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");
}

function anchorsOf(markdown: string): Set<string> {
  const withoutCode = markdown.replace(/```[\s\S]*?```/g, "");
  return new Set([...withoutCode.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchorOf(m[1])));
}

/** Relative links of a Markdown file that do not resolve to a file, or to a heading of it. */
export function linkProblems(file: string, markdown: string, readFile: (file: string) => string | undefined): string[] {
  const problems: string[] = [];
  for (const [, target] of markdown.replace(/```[\s\S]*?```/g, "").matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^[a-z]+:/.test(target)) continue;
    const [relative, anchor] = target.split("#");
    const resolved = relative ? path.posix.normalize(path.posix.join(path.posix.dirname(file), relative)) : file;
    const text = readFile(resolved);
    if (text === undefined) problems.push(`${file}: link to ${target}: ${resolved} does not exist`);
    else if (anchor && resolved.endsWith(".md") && !anchorsOf(text).has(anchor))
      problems.push(`${file}: link to ${target}: ${resolved} has no heading #${anchor}`);
  }
  return problems;
}

function readIfExists(file: string): string | undefined {
  const full = path.join(PROJECT_ROOT, file);
  if (!fs.existsSync(full)) return undefined;
  return fs.statSync(full).isDirectory() ? "" : fs.readFileSync(full, "utf8");
}

/** The commands a text names, as `npm start`, `npm run X`, `npx cdktf`, `npx jest` (options and arguments aside). */
export function commandsNamed(text: string): Set<string> {
  const named = new Set<string>();
  for (const m of text.matchAll(/\bnpm (start|test|ci)\b|\bnpm run ([\w:-]+)|\bnpx (cdktf|jest)\b/g))
    named.add(m[1] ? `npm ${m[1]}` : m[2] ? `npm run ${m[2]}` : `npx ${m[3]}`);
  return named;
}

/** The first column of the README's Commands table. */
function commandsTable(readme: string): string {
  const section = readme.slice(
    readme.indexOf("\n## Commands\n"),
    readme.indexOf("\n## ", readme.indexOf("\n## Commands\n") + 1),
  );
  return [...section.matchAll(/^\| ([^|]+) \|/gm)].map((m) => m[1]).join("\n");
}

const NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"];
const N = `(\\d+|${NUMBER_WORDS.join("|")})`;

/**
 * The pipeline's settings as the docs state them, each with the phrasings that state it. (The SDK client's
 * own "at most 3 attempts" is another setting, the handler's.)
 */
const STATED_SETTINGS: { what: string; value: number; phrasings: RegExp[] }[] = [
  {
    what: "retry count (maxReceiveCount)",
    value: PIPELINE_DEFAULTS.maxReceiveCount,
    phrasings: [
      new RegExp(`\\bfails ${N} times`, "gi"),
      new RegExp(`\\breceived ${N} times`, "gi"),
      new RegExp(`(?<!at most )\\b${N} (?:failed )?(?:receives|attempts)\\b`, "gi"),
      /maxReceiveCount = (\d+)/g,
    ],
  },
  {
    what: "batch size",
    value: PIPELINE_DEFAULTS.batchSize,
    phrasings: [
      /\bbatch(?:es)? of (\d+)/gi,
      /\bbatch size (\d+)/gi,
      /batchSize`? = (\d+)/g,
      /\b(\d+) records concurrently/g,
    ],
  },
  {
    what: "function timeout",
    value: PIPELINE_DEFAULTS.functionTimeoutSeconds,
    phrasings: [/\bfunction timeout (\d+) s\b/gi, /\b(\d+) s becomes \d+ s\b/g],
  },
  {
    what: "visibility timeout",
    value: visibilityTimeoutFor(
      PIPELINE_DEFAULTS.functionTimeoutSeconds,
      PIPELINE_DEFAULTS.maximumBatchingWindowSeconds,
    ),
    phrasings: [/visibility timeout[^.]*?\((\d+) s\)/gi, /\b(\d+) s become \d+ ms\b/g],
  },
];

/** Each stated retry count, batch size or timeout that differs from constructs/settings.ts, with its line. */
function statedSettingProblems(file: string, text: string): string[] {
  const problems: string[] = [];
  for (const { what, value, phrasings } of STATED_SETTINGS) {
    for (const phrasing of phrasings) {
      for (const match of text.matchAll(phrasing)) {
        const word = match[1].toLowerCase();
        const stated = NUMBER_WORDS.includes(word) ? NUMBER_WORDS.indexOf(word) : Number(word);
        const line = text.slice(0, match.index).split("\n").length;
        if (stated !== value)
          problems.push(`${file}:${line}: "${match[0]}" states a ${what} of ${stated}; the setting is ${value}`);
      }
    }
  }
  return problems;
}

describe("the docs", () => {
  test.each(DOCS)("%s: every retry count, batch size and timeout it states is the setting's", (file) => {
    expect(statedSettingProblems(file, read(file))).toEqual([]);
  });

  test("the stated settings are found, and a wrong one fails", () => {
    const stated = DOCS.flatMap((file) =>
      statedSettingProblems(file, read(file).replace(/\b(3|three|10|30|181)\b/g, "7")),
    );
    for (const what of ["retry count", "batch size", "function timeout", "visibility timeout"])
      expect(stated.some((problem) => problem.includes(`a ${what}`))).toBe(true);
    expect(statedSettingProblems("docs/x.md", "A message that fails five times\nlands after 5 receives")).toEqual([
      `docs/x.md:1: "fails five times" states a retry count (maxReceiveCount) of 5; the setting is ${PIPELINE_DEFAULTS.maxReceiveCount}`,
      `docs/x.md:2: "5 receives" states a retry count (maxReceiveCount) of 5; the setting is ${PIPELINE_DEFAULTS.maxReceiveCount}`,
    ]);
    expect(statedSettingProblems("docs/x.md", "the SDK makes at most 3 attempts")).toEqual([]);
  });

  test.each(DOCS)("%s: every command in its shell blocks exists, with its options and sub-commands", (file) => {
    expect(shellLines(read(file)).flatMap(commandProblems)).toEqual([]);
  });

  test.each(DOCS)("%s: every npm script it names exists", (file) => {
    const named = [...read(file).matchAll(/\bnpm run (?:--silent )?([\w:-]+)/g)].map((m) => m[1]);
    expect(named.filter((script) => !SCRIPTS.includes(script))).toEqual([]);
  });

  test.each(DOCS)("%s: every relative link resolves, anchors included", (file) => {
    expect(linkProblems(file, read(file), readIfExists)).toEqual([]);
  });

  test("the README links every page of docs/", () => {
    const linked = [...read("README.md").matchAll(/\]\((docs\/[\w-]+\.md)\)/g)].map((m) => m[1]);
    expect(new Set(linked)).toEqual(new Set(DOCS.filter((f) => f.startsWith("docs/"))));
  });

  test("help lists the same commands as the README's Commands table", () => {
    const table = commandsNamed(commandsTable(read("README.md")));
    expect(table.size).toBeGreaterThan(10);
    expect([...commandsNamed(read("help"))].sort()).toEqual([...table].sort());
  });

  test("the README stays a front door: at most about 200 lines", () => {
    expect(read("README.md").split("\n").length).toBeLessThanOrEqual(210);
  });

  test("each page starts with its title and says who it is for; headings do not skip a level", () => {
    for (const file of DOCS.filter((f) => f.startsWith("docs/"))) {
      const text = read(file);
      expect(text).toMatch(/^# .+\n\nFor /);
      const levels = [...text.replace(/```[\s\S]*?```/g, "").matchAll(/^(#{1,6}) /gm)].map((m) => m[1].length);
      levels.forEach(
        (level, i) => i > 0 && expect({ file, jump: level - levels[i - 1] <= 1 }).toEqual({ file, jump: true }),
      );
    }
  });

  test("the checks fail on what is broken", () => {
    expect(commandProblems("npm run nosuch")).toEqual(["npm run nosuch: no such script in package.json"]);
    expect(commandProblems("npm start -- --serve --wacth")).toEqual([
      "npm start -- --wacth: not an option of npm start",
    ]);
    // The orders CLI's own reading of its command line: what it would refuse, with its message.
    expect(commandProblems("npm run orders -- --outputs x.json dlq purge")).toEqual([
      `npm run orders -- --outputs x.json dlq purge: Unknown command "dlq purge". Commands: ${ORDERS_COMMANDS.join(", ")} (see --help).`,
    ]);
    expect(commandProblems("npm run orders -- verify --alarm")).toEqual([
      expect.stringMatching(/^npm run orders -- verify --alarm: Unknown option '--alarm'/),
    ]);
    expect(commandProblems("npm run orders --silent -- --outputs o.json dlq list")).toEqual([]);
    const pages: Record<string, string> = { "docs/a.md": "# A\n\n## Has it\n", "README.md": "" };
    expect(
      linkProblems("README.md", "[a](docs/a.md#has-it) [b](docs/b.md) [c](docs/a.md#gone)", (f) => pages[f]),
    ).toEqual([
      "README.md: link to docs/b.md: docs/b.md does not exist",
      "README.md: link to docs/a.md#gone: docs/a.md has no heading #gone",
    ]);
    expect(anchorOf("`npm start -- --serve`")).toBe("npm-start------serve");
    expect(anchorOf("CI/CD on GitHub")).toBe("cicd-on-github");
  });
});
