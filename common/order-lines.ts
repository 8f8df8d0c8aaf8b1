/**
 * The orders a user hands a CLI (`npm start -- --orders FILE`, `npm run orders -- publish FILE`): JSON lines,
 * each non-blank line one message body exactly as written, read as bytes so nothing is altered.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** One order to publish: its line's number (1-based, blank lines counted) and its text. */
export interface OrderLine {
  readonly line: number;
  readonly body: string;
}

/** Input a user can fix: the message says what was wrong and what to do. */
export class OrderInputError extends Error {
  override readonly name = "OrderInputError";
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** A path the user typed, from the folder they ran npm in (npm runs scripts from the project root). */
export function userPath(file: string): string {
  return path.resolve(process.env.INIT_CWD ?? process.cwd(), file);
}

const isObject = (body: string) => {
  try {
    const value = JSON.parse(body);
    return typeof value === "object" && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
};

/**
 * Each non-blank line of `file` (a user's path; "-" for stdin), or of `input` when given. A line that is
 * not valid UTF-8 is refused with its number (never altered); a UTF-8 byte order mark is not part of
 * line 1; CRLF ends are not part of a line. `warning` says when no line is a JSON object (the format is
 * JSON lines). `label` names the option or command in messages.
 */
export function readOrderLines(label: string, file: string, input?: Buffer): { lines: OrderLine[]; warning?: string } {
  if (input === undefined && file !== "-" && !fs.existsSync(userPath(file)))
    throw new OrderInputError(`${label}: ${userPath(file)} does not exist`);
  let bytes = input ?? fs.readFileSync(file === "-" ? 0 : userPath(file));
  if (bytes.subarray(0, 3).equals(BOM)) bytes = bytes.subarray(3);
  const lines: OrderLine[] = [];
  let start = 0;
  for (let line = 1; start <= bytes.length; line++) {
    const end = bytes.indexOf(0x0a, start);
    let text: string;
    try {
      text = UTF8.decode(bytes.subarray(start, end === -1 ? bytes.length : end)).replace(/\r$/, "");
    } catch {
      throw new OrderInputError(
        `${label}: line ${line} of ${file} is not valid UTF-8; save the file as UTF-8 (nothing was published)`,
      );
    }
    if (text.trim() !== "") lines.push({ line, body: text });
    if (end === -1) break;
    start = end + 1;
  }
  if (lines.length === 0 || lines.some((l) => isObject(l.body))) return { lines };
  return {
    lines,
    warning: `warning: no line of ${file} is a JSON object: ${label} reads JSON lines (one order per line), not a JSON array or pretty-printed JSON; each line is published as it is`,
  };
}
