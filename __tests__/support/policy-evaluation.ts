/**
 * What IAM decides for one action on one resource in a request context, for the policy elements this
 * project writes: Allow/Deny by action and resource (with `*` wildcards), principals `*`, `{ AWS }` (any
 * IAM caller of the account) and `{ Service }` (never an IAM caller), and the condition operators it
 * uses. A key absent from the request makes a positive operator false and a negated one true
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
 * It is the tests' oracle and moto's stand-in for IAM policy simulation, not a full IAM.
 */
export type Decision = "allowed" | "explicitDeny" | "implicitDeny";

export interface PolicyStatementJson {
  readonly Effect: string;
  readonly Principal?: unknown;
  readonly Action?: string | string[];
  readonly Resource?: string | string[];
  readonly Condition?: Record<string, Record<string, string | string[]>>;
}

export interface Request {
  readonly action: string;
  readonly resource: string;
  /** Whether the caller is an IAM principal (user or role) or a service principal. */
  readonly caller: "iam" | { readonly service: string };
  /** Condition keys; a multi-valued key (`aws:TagKeys`) as a list. */
  readonly context: Record<string, string | string[]>;
}

export const list = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];
const glob = (pattern: string) =>
  new RegExp(
    `^${pattern
      .split("*")
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*")}$`,
    "i",
  );
/** Whether `value` matches one of IAM-style `*` patterns (case-insensitive, as actions are). */
export const matches = (patterns: string[], value: string) => patterns.some((pattern) => glob(pattern).test(value));

type Operator = (actual: string | undefined, expected: string[]) => boolean;
const OPERATORS: Record<string, Operator> = {
  ArnEquals: (actual, expected) => actual !== undefined && expected.includes(actual),
  ArnLike: (actual, expected) => actual !== undefined && matches(expected, actual),
  ArnNotEquals: (actual, expected) => actual === undefined || !expected.includes(actual),
  ArnNotLike: (actual, expected) => actual === undefined || !matches(expected, actual),
  StringEquals: (actual, expected) => actual !== undefined && expected.includes(actual),
  StringNotEquals: (actual, expected) => actual === undefined || !expected.includes(actual),
  Bool: (actual, expected) => actual !== undefined && expected.includes(actual),
  // "true": the key is absent from the request; "false": it is present.
  Null: (actual, expected) => expected.includes(String(actual === undefined)),
};

/** One operator over a key's values: single-valued keys need exactly one; `ForAllValues:` holds for an absent key. */
function holds(operator: string, actual: string | string[] | undefined, expected: string[]): boolean {
  const [qualifier, name] = operator.includes(":") ? operator.split(":") : [undefined, operator];
  const test = OPERATORS[name];
  if (!test || (qualifier !== undefined && qualifier !== "ForAllValues"))
    throw new Error(`policy evaluation: no rule for the ${operator} condition operator`);
  if (qualifier === "ForAllValues") return list(actual).every((value) => test(value, expected));
  if (Array.isArray(actual)) throw new Error(`policy evaluation: ${operator} on a multi-valued key`);
  return test(actual, expected);
}

function principalApplies(principal: unknown, caller: Request["caller"]): boolean {
  if (principal === undefined || principal === "*") return true; // identity policies name no principal
  const named = principal as { AWS?: unknown; Service?: string | string[] };
  if (caller === "iam") return named.AWS !== undefined;
  return list(named.Service).includes(caller.service);
}

function conditionsHold(statement: PolicyStatementJson, context: Request["context"]): boolean {
  return Object.entries(statement.Condition ?? {}).every(([operator, keys]) =>
    Object.entries(keys).every(([key, values]) => holds(operator, context[key], list(values))),
  );
}

/** The decision of all statements together (identity and resource policies of one account). */
export function decide(statements: PolicyStatementJson[], request: Request): Decision {
  const applicable = statements.filter(
    (s) =>
      matches(list(s.Action), request.action) &&
      (s.Resource === undefined || matches(list(s.Resource), request.resource)) &&
      principalApplies(s.Principal, request.caller) &&
      conditionsHold(s, request.context),
  );
  if (applicable.some((s) => s.Effect === "Deny")) return "explicitDeny";
  return applicable.some((s) => s.Effect === "Allow") ? "allowed" : "implicitDeny";
}
