/**
 * The project as every CLI and script sees it: its root folder, its settings (as synthesis reads them:
 * the environment variables first, then cdktf.json's `context`), and synthesis of the app as `cdktf synth`
 * runs it.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { environmentName, resolveEnvironment, settingsFrom, SettingSource } from "../constructs/environments";

/** The repository's root folder. */
export const PROJECT_ROOT = path.resolve(__dirname, "..");

/** cdktf.json's `context`: what `cdktf synth` hands the app (as CDKTF_CONTEXT_JSON). */
function appContext(): Record<string, unknown> {
  const config = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "cdktf.json"), "utf8"));
  return config.context ?? {};
}

/** A setting from the environment variables first, then from cdktf.json's context, as synthesis reads it. */
export function projectSettings(env: NodeJS.ProcessEnv = process.env): SettingSource {
  const context = appContext();
  return settingsFrom(env, (key) => context[key]);
}

/** The environment the settings pick (ORDER_ENV, or the `environment` context; dev by default), checked. */
export function projectEnvironment(env: NodeJS.ProcessEnv = process.env): string {
  return environmentName(projectSettings(env));
}

/** Where synthesis writes: CDKTF_OUTDIR, or cdktf.out. */
export function synthesisDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(PROJECT_ROOT, env.CDKTF_OUTDIR ?? "cdktf.out");
}

/** Synthesizes the app (main.ts) as `cdktf synth` does, context included, and returns the selected stack's folder. */
export function synthesize(env: NodeJS.ProcessEnv = process.env): string {
  const config = resolveEnvironment(projectSettings(env));
  const result = spawnSync(process.execPath, ["-r", "esbuild-register", "main.ts"], {
    cwd: PROJECT_ROOT,
    encoding: "utf8",
    env: { ...env, CDKTF_CONTEXT_JSON: JSON.stringify(appContext()) },
  });
  if (result.status !== 0) throw new Error(`synthesis failed:\n${result.stderr || result.stdout}`);
  return path.join(synthesisDir(env), "stacks", config.names.stack);
}
