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
  // Jest leaves one core to its parent by default; here the parent only waits, and the Terraform proof and
  // the offline runtime spend their time in child processes and worker threads.
  maxWorkers: "100%",
};
