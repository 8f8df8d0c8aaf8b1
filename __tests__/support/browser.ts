/** The system's Chromium for the browser tests: CHROMIUM_PATH, or one on PATH (`npm run setup:browser` installs Debian's). */
import { execFileSync } from "node:child_process";

export function chromiumPath(): string | undefined {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  for (const name of ["chromium", "chromium-browser", "google-chrome"]) {
    try {
      return execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim() || undefined;
    } catch {
      // not this one
    }
  }
  return undefined;
}

/** The Chromium, or a warning (and in CI an error) naming what to do. */
export function requiredChromium(test: string): string | undefined {
  const found = chromiumPath();
  if (!found) {
    console.warn(`${test} NOT RUN: no Chromium; run \`npm run setup:browser\` or set CHROMIUM_PATH`);
    if (process.env.CI) throw new Error(`${test} is required in CI: no Chromium (npm run setup:browser)`);
  }
  return found;
}

/** The Chromium at `executablePath`, with one page of the console tests' size. */
export async function launchPage(executablePath: string | undefined) {
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  return { browser, page };
}
