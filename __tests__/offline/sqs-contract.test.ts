import { judgeBatch } from "../../offline/runtime/lambda-service/sqs-contract";

// How Lambda's SQS event source mapping judges one invocation of a batch of three.
const IDS = ["m1", "m2", "m3"];
const returned = (value: unknown) => ({ kind: "returned" as const, value });
const judge = (result: Parameters<typeof judgeBatch>[0], reportBatchItemFailures = true) => {
  const verdict = judgeBatch(result, IDS, reportBatchItemFailures, 30);
  return { failed: [...verdict.failed].sort(), wholeBatchFailure: verdict.wholeBatchFailure };
};

describe("judging a batch response", () => {
  test("reported failures go back; the rest succeed", () => {
    expect(judge(returned({ batchItemFailures: [{ itemIdentifier: "m2" }] }))).toEqual({
      failed: ["m2"],
      wholeBatchFailure: undefined,
    });
  });

  test.each([
    ["nothing returned", undefined],
    ["null", null],
    ["an empty list", { batchItemFailures: [] }],
    ["no list", {}],
  ])("%s means every record succeeded", (_, value) => {
    expect(judge(returned(value))).toEqual({ failed: [], wholeBatchFailure: undefined });
  });

  test.each([
    ["an id not in the batch", { batchItemFailures: [{ itemIdentifier: "other" }] }],
    ["an entry without an id", { batchItemFailures: [{}] }],
    ["a list that is not a list", { batchItemFailures: "m1" }],
    ["a string", "failed"],
  ])("an invalid response (%s) fails the whole batch", (_, value) => {
    expect(judge(returned(value))).toEqual({
      failed: IDS,
      wholeBatchFailure: "invalid partial batch response: the whole batch is retried",
    });
  });

  test("an error or a timeout fails the whole batch, whatever the response type", () => {
    expect(judge({ kind: "error", error: "TypeError: boom\n    at handler" })).toEqual({
      failed: IDS,
      wholeBatchFailure: "TypeError: boom",
    });
    expect(judge({ kind: "timeout" }, false)).toEqual({
      failed: IDS,
      wholeBatchFailure: "timed out after 30 s (scaled)",
    });
  });

  test("without ReportBatchItemFailures a returned value is success, even one that lists failures", () => {
    expect(judge(returned({ batchItemFailures: [{ itemIdentifier: "m2" }] }), false)).toEqual({
      failed: [],
      wholeBatchFailure: undefined,
    });
  });
});
