/** A copy of the project to edit (the `--watch` test and `npm run bench:serve` change its lambda/). */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { PROJECT_ROOT } from "../common/project";

/**
 * A copy of the project's files (as git lists them, the tests left out) in `dir`, sharing this one's
 * node_modules: a project whose sources a test may edit.
 */
export function copyProject(dir: string): string {
  const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], {
    cwd: PROJECT_ROOT,
    encoding: "utf8",
  });
  for (const file of files.split("\n")) {
    if (!file || file.startsWith("__tests__/") || !fs.existsSync(path.join(PROJECT_ROOT, file))) continue;
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.copyFileSync(path.join(PROJECT_ROOT, file), path.join(dir, file));
  }
  fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(dir, "node_modules"));
  // The Python tools (`npm run setup:python`), as the user's clone has them.
  if (fs.existsSync(path.join(PROJECT_ROOT, ".venv")))
    fs.symlinkSync(path.join(PROJECT_ROOT, ".venv"), path.join(dir, ".venv"));
  return dir;
}
