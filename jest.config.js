/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/__tests__"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.tsx?$": "ts-jest" },
  setupFilesAfterEnv: ["<rootDir>/setup.js"],
  testTimeout: 120000,
  // Jest leaves one core to its parent by default; here the parent only waits, and the Terraform proof and
  // the offline runtime spend their time in child processes and worker threads.
  maxWorkers: "100%",
};
