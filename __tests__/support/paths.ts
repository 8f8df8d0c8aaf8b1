import * as path from "node:path";

/** The repository's root folder, wherever a test file sits below `__tests__/`. */
export const PROJECT_ROOT = path.resolve(__dirname, "..", "..");
