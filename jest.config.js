/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/__tests__"],
  testMatch: ["**/*.test.ts"],
  // The deploy proof, Checkov and the AWS CLI walkthrough need the Python tools and take minutes: `npm run test:deploy` runs them.
  testPathIgnorePatterns: process.env.ORDER_DEPLOY_PROOF
    ? ["/node_modules/"]
    : ["/node_modules/", "/deploy-proof-\\w+\\.test\\.ts$", "/checkov\\.test\\.ts$", "/try-locally\\.test\\.ts$"],
  // esbuild strips the types (npm run typecheck checks them before jest runs).
  transform: { "^.+\\.ts$": "<rootDir>/__tests__/support/esbuild-transform.js" },
  setupFilesAfterEnv: ["<rootDir>/setup.js"],
  testTimeout: 120000,
  // Jest leaves one core to its parent by default; here the parent only waits. The suites wait too (on
  // servers they started, long polls, Chromium, terraform): one and a half workers per core keeps the cores
  // busy (on 2 cores, 3 workers ran the suite in 44-50 s against 52-69 s with 2).
  // (A count: jest reads "150%" as 150 workers.)
  maxWorkers: Math.ceil(require("node:os").availableParallelism() * 1.5),
};
