/**
 * The stack's outputs as the local engines answer them: each `output` of `cdk.tf.json` whose references
 * all name a resource the runtime created (a queue's URL or ARN, a topic's ARN, the table's and the
 * function's names, the subscription's ARN) gets the value the resource registry holds for it. Outputs about what is not emulated
 * (roles, keys, alarms, the dashboard) are left out rather than invented; of the `verify` expectations,
 * the ones the engines can answer are kept.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { LocalPipeline } from "../runtime/pipeline";
import { resolveReferences } from "../runtime/stack-model";

/** A value with its references resolved; undefined if any of them does not resolve. */
function resolved(value: unknown, known: ReadonlyMap<string, Readonly<Record<string, string>>>): unknown {
  if (typeof value === "string") {
    const result = resolveReferences(value, known);
    return "value" in result ? result.value : undefined;
  }
  if (value && typeof value === "object") {
    const entries = Object.entries(value).map(([key, item]) => [key, resolved(item, known)]);
    if (entries.some(([, item]) => item === undefined)) return undefined;
    return Array.isArray(value) ? entries.map(([, item]) => item) : Object.fromEntries(entries);
  }
  return value;
}

/**
 * A string output only if it names a local resource and all its references resolve (a literal, such as
 * the dashboard's console URL, is about AWS); an object output (`verify`) with the entries that resolve.
 */
export function localOutputs(pipeline: LocalPipeline): Record<string, unknown> {
  const doc = JSON.parse(fs.readFileSync(path.join(pipeline.stack.stackDir, "cdk.tf.json"), "utf8"));
  const known = pipeline.resources.attributes;
  const outputs: Record<string, unknown> = {};
  for (const [name, { value }] of Object.entries<{ value: unknown }>(doc.output ?? {})) {
    if (typeof value === "string" && value.includes("${")) {
      const local = resolved(value, known);
      if (local !== undefined) outputs[name] = local;
    } else if (value && typeof value === "object" && !Array.isArray(value)) {
      const entries = Object.entries(value).map(([key, item]) => [key, resolved(item, known)]);
      outputs[name] = Object.fromEntries(entries.filter(([, item]) => item !== undefined));
    }
  }
  return outputs;
}
