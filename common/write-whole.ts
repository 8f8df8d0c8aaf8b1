import * as fs from "node:fs";
import * as path from "node:path";

/**
 * Writes `file` whole: to a partial file beside its folder, then renamed into it. A concurrent reader (another
 * test worker, a server starting) never reads half a file, and one copying the folder (a synth taking it as
 * its asset) never meets a partial file that vanishes mid-copy.
 */
export function writeWhole(file: string, contents: Uint8Array | string): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  const partial = path.join(path.dirname(dir), `.${path.basename(dir)}.${path.basename(file)}.${process.pid}.partial`);
  fs.writeFileSync(partial, contents);
  fs.renameSync(partial, file);
}
