import { ENVIRONMENT_NAMES, resolveEnvironment, resourceNames, settingsFrom } from "../../constructs";
import { decide, PolicyStatementJson, Request } from "../support/policy-evaluation";
import { asList, resourcesOf, synthStateStack, TEST_ENVIRONMENTS, TfJson } from "../support/stacks";

const REPOSITORY = "acme/order-pipeline";
const bootstrap = (environment: string, extra: NodeJS.ProcessEnv = {}) =>
  synthStateStack(
    resolveEnvironment(
      settingsFrom({ ...TEST_ENVIRONMENTS[environment], ORDER_GITHUB_REPOSITORY: REPOSITORY, ...extra }),
    ),
  );
const roleNamed = (json: TfJson, name: string) => resourcesOf(json, "aws_iam_role").find((r) => r.body.name === name)!;
const policyOf = (json: TfJson, roleName: string): TfJson[] => {
  const role = roleNamed(json, roleName);
  const policy = resourcesOf(json, "aws_iam_role_policy").find(
    (p) => p.body.role === `\${aws_iam_role.${role.name}.id}`,
  )!;
  return JSON.parse(policy.body.policy).Statement;
};

test("without a GitHub repository the bootstrap stack creates no CI roles", () => {
  const json = synthStateStack(resolveEnvironment(settingsFrom(TEST_ENVIRONMENTS.dev)));
  expect(resourcesOf(json, "aws_iam_role")).toEqual([]);
  expect(resourcesOf(json, "aws_iam_openid_connect_provider")).toEqual([]);
});

describe.each(ENVIRONMENT_NAMES)("GitHub CI roles: %s", (environment) => {
  const names = resourceNames(environment);
  const json = bootstrap(environment);

  test("each role trusts exactly one GitHub subject of this repository, for the audience sts.amazonaws.com", () => {
    const provider = resourcesOf(json, "aws_iam_openid_connect_provider");
    expect(provider.map((p) => p.body)).toEqual([
      expect.objectContaining({
        url: "https://token.actions.githubusercontent.com",
        client_id_list: ["sts.amazonaws.com"],
      }),
    ]);
    const trust = (roleName: string) => JSON.parse(roleNamed(json, roleName).body.assume_role_policy).Statement;
    const expected = (subject: string) => [
      {
        Sid: "GithubActionsOidc",
        Effect: "Allow",
        Principal: { Federated: `\${aws_iam_openid_connect_provider.${provider[0].name}.arn}` },
        Action: "sts:AssumeRoleWithWebIdentity",
        // StringEquals, never StringLike: no wildcard subject can match another branch, fork or environment.
        Condition: {
          StringEquals: {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": subject,
          },
        },
      },
    ];
    expect(trust(names.planRole)).toEqual(expected(`repo:${REPOSITORY}:pull_request`));
    expect(trust(names.deployRole)).toEqual(expected(`repo:${REPOSITORY}:environment:${environment}`));
  });

  test("the plan role reads and writes nothing but the state's lock object", () => {
    const readOnly = /^[a-z0-9]+:(Get|List|Describe)/;
    for (const statement of policyOf(json, names.planRole)) {
      expect(statement.Effect).toBe("Allow");
      for (const action of asList<string>(statement.Action)) {
        if (readOnly.test(action) || action === "s3:GetObject") continue;
        const where = { action, resource: statement.Resource };
        if (action === "kms:Decrypt" || action === "kms:GenerateDataKey")
          expect(where).toEqual({ action, resource: expect.stringMatching(/aws_kms_key\.\w+\.arn/) });
        else
          expect(where).toEqual({
            action,
            resource: expect.stringMatching(new RegExp(`/order-system/${environment}/terraform\\.tfstate\\.tflock$`)),
          });
      }
    }
  });

  test("the deploy role is confined to this environment's resources", () => {
    const others = ENVIRONMENT_NAMES.filter((e) => e !== environment).map((e) => resourceNames(e).queue);
    for (const statement of policyOf(json, names.deployRole)) {
      for (const resource of asList<string>(statement.Resource)) {
        if (resource === "*") {
          // Only actions IAM cannot scope to a resource: the two read-only ones, the rest under a condition.
          const actions = asList<string>(statement.Action);
          const unscoped = ["kms:ListAliases", "iam:SimulateCustomPolicy"];
          expect(actions.every((a) => unscoped.includes(a)) || statement.Condition !== undefined).toBe(true);
          continue;
        }
        for (const other of others) expect(resource).not.toMatch(new RegExp(`:${other}(:|$)`));
      }
    }
    // PassRole only to Lambda, and no action pattern grants it without that condition.
    const passRole = policyOf(json, names.deployRole).filter((s) =>
      asList<string>(s.Action).some((a) => /^iam:.*\*/.test(a) || a === "iam:PassRole"),
    );
    expect(passRole.map((s) => s.Condition)).toEqual([
      { StringEquals: { "iam:PassedToService": "lambda.amazonaws.com" } },
    ]);
  });
});

describe("the deploy role cannot take over what is not the stack's", () => {
  const account = "111111111111";
  const json = bootstrap("dev");
  // The plan-time lookups as an account would answer them.
  const statements: PolicyStatementJson[] = JSON.parse(
    JSON.stringify(policyOf(json, resourceNames("dev").deployRole))
      .replaceAll("${data.aws_partition.partition.partition}", "aws")
      .replaceAll("${data.aws_caller_identity.caller.account_id}", account),
  );
  const ask = (action: string, resource: string, context: Request["context"] = {}) =>
    decide(statements, { action, resource, caller: "iam", context });
  const key = (id: string) => `arn:aws:kms:us-east-1:${account}:key/${id}`;
  const ours = { "aws:ResourceTag/project": "order-system", "aws:ResourceTag/environment": "dev" };
  const requestTags = { "aws:RequestTag/project": "order-system", "aws:RequestTag/environment": "dev" };
  const tagKeys = { "aws:TagKeys": ["project", "environment"] };

  test("it creates its key with this environment's tags, and manages a key that carries them", () => {
    expect(ask("kms:CreateKey", "*", { ...requestTags, ...tagKeys })).toBe("allowed");
    // CreateKey's tags are authorized as kms:TagResource on no particular key.
    expect(ask("kms:TagResource", "*", { ...requestTags, ...tagKeys })).toBe("allowed");
    expect(ask("kms:CreateKey", "*", { ...requestTags, "aws:TagKeys": ["project", "environment", "owner"] })).not.toBe(
      "allowed",
    );
    for (const action of ["kms:PutKeyPolicy", "kms:EnableKeyRotation", "kms:ScheduleKeyDeletion", "kms:TagResource"])
      expect([action, ask(action, key("ours"), { ...ours, ...requestTags, ...tagKeys })]).toEqual([action, "allowed"]);
  });

  test("tagging an outside key is denied, so the key never becomes the role's", () => {
    const untagged = {};
    const otherEnvironment = { "aws:ResourceTag/project": "order-system", "aws:ResourceTag/environment": "prod" };
    const otherProject = { "aws:ResourceTag/project": "billing", "aws:ResourceTag/environment": "dev" };
    for (const existing of [untagged, otherEnvironment, otherProject]) {
      const tagging = ask("kms:TagResource", key("outside"), { ...existing, ...requestTags, ...tagKeys });
      expect([existing, tagging]).toEqual([existing, "explicitDeny"]);
      expect(ask("kms:UntagResource", key("outside"), { ...existing, "aws:TagKeys": ["environment"] })).toBe(
        "explicitDeny",
      );
      // Without the tags, nothing else of the key is the role's either.
      for (const action of ["kms:Decrypt", "kms:ScheduleKeyDeletion", "kms:PutKeyPolicy"])
        expect([action, ask(action, key("outside"), existing)]).toEqual([action, "implicitDeny"]);
    }
  });

  test("it changes event source mappings of the stack's function only", () => {
    const mapping = `arn:aws:lambda:us-east-1:${account}:event-source-mapping:0b4c-outside`;
    const ourFunction = { "lambda:FunctionArn": `arn:aws:lambda:us-east-1:${account}:function:OrderProcessor` };
    const otherFunction = { "lambda:FunctionArn": `arn:aws:lambda:us-east-1:${account}:function:Billing` };
    for (const action of ["lambda:UpdateEventSourceMapping", "lambda:DeleteEventSourceMapping"]) {
      expect([action, ask(action, mapping, otherFunction)]).toEqual([action, "implicitDeny"]);
      expect([action, ask(action, mapping, ourFunction)]).toEqual([action, "allowed"]);
    }
    expect(ask("lambda:CreateEventSourceMapping", "*", otherFunction)).toBe("implicitDeny");
    expect(ask("lambda:CreateEventSourceMapping", "*", ourFunction)).toBe("allowed");
  });
});

test("an existing OIDC provider is trusted instead of creating a second one (one per account)", () => {
  const arn = "arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com";
  const json = bootstrap("staging", { ORDER_GITHUB_OIDC_PROVIDER_ARN: arn });
  expect(resourcesOf(json, "aws_iam_openid_connect_provider")).toEqual([]);
  for (const role of resourcesOf(json, "aws_iam_role"))
    expect(JSON.parse(role.body.assume_role_policy).Statement[0].Principal).toEqual({ Federated: arn });
});
