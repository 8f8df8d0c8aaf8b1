// @ts-check
/**
 * Jest's TypeScript transform: esbuild strips the types of each file as it is loaded (the scripts run the
 * same way, through esbuild-register). Types are checked once, by `npm run typecheck` before jest runs,
 * so the tests do not type-check every file again in every worker.
 */
const { createHash } = require("node:crypto");
const fs = require("node:fs");
const esbuild = require("esbuild");

/** What a cached result depends on besides the file: this transform and the esbuild that ran it. */
const TRANSFORM_VERSION = createHash("sha256")
  .update(fs.readFileSync(__filename))
  .update(esbuild.version)
  .digest("hex");

module.exports = {
  /** @param {string} sourceText @param {string} sourcePath */
  process(sourceText, sourcePath) {
    const { code, map } = esbuild.transformSync(sourceText, {
      loader: sourcePath.endsWith(".js") ? "js" : "ts",
      format: "cjs",
      target: "node20",
      // import() as require(), as tsc compiles it for CommonJS: jest runs tests as CommonJS.
      supported: { "dynamic-import": false },
      sourcemap: "external",
      sourcefile: sourcePath,
    });
    return { code, map };
  },
  /** @param {string} sourceText @param {string} sourcePath */
  getCacheKey(sourceText, sourcePath) {
    return createHash("sha256").update(TRANSFORM_VERSION).update(sourcePath).update(sourceText).digest("hex");
  },
};
