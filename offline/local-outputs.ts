/**
 * The stack's outputs as the local engines answer them: each `output` of `cdk.tf.json` whose references
 * all name a resource the runtime created (a queue's URL or ARN, a topic's ARN, the table's and the
 * function's names) gets the engine's value. Outputs about what is not emulated (roles, keys, alarms,
 * the dashboard, the `verify` expectations) are left out rather than invented.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { LocalPipeline } from "./pipeline";
import { resolveReferences } from "./stack-model";

/** `type.key` -> attribute -> local value, for every resource the runtime created. */
function identities(pipeline: LocalPipeline): Map<string, Record<string, string>> {
  const known = new Map<string, Record<string, string>>();
  for (const q of pipeline.queues.values())
    known.set(`aws_sqs_queue.${q.model.key}`, { url: q.url, id: q.url, arn: q.arn, name: q.name });
  for (const t of pipeline.topics.values())
    known.set(`aws_sns_topic.${t.model.key}`, { arn: t.arn, id: t.arn, name: t.name });
  for (const t of pipeline.stack.tables) known.set(`aws_dynamodb_table.${t.key}`, { name: t.name, id: t.name });
  for (const f of pipeline.stack.functions)
    known.set(`aws_lambda_function.${f.key}`, { function_name: f.name, id: f.name, arn: f.arn });
  return known;
}

export function localOutputs(pipeline: LocalPipeline): Record<string, string> {
  const doc = JSON.parse(fs.readFileSync(path.join(pipeline.stack.stackDir, "cdk.tf.json"), "utf8"));
  const known = identities(pipeline);
  const outputs: Record<string, string> = {};
  for (const [name, output] of Object.entries<{ value: unknown }>(doc.output ?? {})) {
    if (typeof output.value !== "string" || !output.value.includes("${")) continue;
    const result = resolveReferences(output.value, known);
    if ("value" in result) outputs[name] = result.value;
  }
  return outputs;
}
