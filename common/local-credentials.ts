/**
 * The credentials every client of a local endpoint uses (`npm start`, `--serve`, the orders CLI against the
 * outputs `--serve` writes): the local engines accept any, and nothing reached with them is AWS.
 */
export const LOCAL_CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" } as const;
