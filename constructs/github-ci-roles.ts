import { IamOpenidConnectProvider } from "@cdktf/provider-aws/lib/iam-openid-connect-provider";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { Construct } from "constructs";
import { PROJECT_TAG } from "./aws-provider";
import { ResourceNames } from "./environments";
import { alarmArns } from "./order-alarms";
import { policyDocument, PolicyStatement } from "./policy";

/** GitHub Actions' OIDC issuer; IAM trusts it through the account's OIDC provider for that URL. */
export const GITHUB_OIDC_HOST = "token.actions.githubusercontent.com";

export interface GithubCiRolesProps {
  /** The repository whose workflows may assume the roles, `owner/name`. */
  readonly repository: string;
  /** The environment: its names, and the GitHub environment (same name) that gates the deploy role. */
  readonly environment: string;
  readonly names: ResourceNames;
  /** An existing OIDC provider for GitHub in the account (one per account). @default one is created */
  readonly oidcProviderArn?: string;
  /** The state bucket, the state object's key and the key state is encrypted with. */
  readonly stateBucketArn: string;
  readonly stateObjectKey: string;
  readonly stateKeyArn: string;
  readonly accountId: string;
  readonly partition: string;
  readonly region: string;
}

/**
 * The two roles GitHub Actions assumes for one environment. The plan role, for `cdktf diff` on pull
 * requests, reads the stack's resources and its state and writes nothing but the state's lock object;
 * it trusts only the repository's `pull_request` subject. The deploy role, for `cdktf deploy`, manages
 * exactly this environment's resources; it trusts only the subject of the repository's GitHub environment
 * of the same name, so that environment's required reviewers gate every use of it.
 */
export class GithubCiRoles extends Construct {
  public readonly oidcProviderArn: string;
  public readonly planRole: IamRole;
  public readonly deployRole: IamRole;

  constructor(scope: Construct, id: string, props: GithubCiRolesProps) {
    super(scope, id);
    this.oidcProviderArn =
      props.oidcProviderArn ??
      new IamOpenidConnectProvider(this, "GithubOidc", {
        url: `https://${GITHUB_OIDC_HOST}`,
        clientIdList: ["sts.amazonaws.com"],
      }).arn;
    const arns = environmentArns(props);
    this.planRole = this.role("PlanRole", props.names.planRole, `repo:${props.repository}:pull_request`);
    new IamRolePolicy(this, "PlanAccess", {
      name: "OrderPipelinePlan",
      role: this.planRole.id,
      policy: policyDocument(planStatements(props, arns)),
    });
    this.deployRole = this.role(
      "DeployRole",
      props.names.deployRole,
      `repo:${props.repository}:environment:${props.environment}`,
    );
    new IamRolePolicy(this, "DeployAccess", {
      name: "OrderPipelineDeploy",
      role: this.deployRole.id,
      policy: policyDocument(deployStatements(props, arns)),
    });
  }

  /**
   * A role only GitHub's OIDC tokens for exactly `subject` and the audience `sts.amazonaws.com` can
   * assume (https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/configuring-openid-connect-in-amazon-web-services).
   */
  private role(id: string, name: string, subject: string): IamRole {
    return new IamRole(this, id, {
      name,
      maxSessionDuration: 3600,
      assumeRolePolicy: policyDocument([
        {
          Sid: "GithubActionsOidc",
          Effect: "Allow",
          Principal: { Federated: this.oidcProviderArn },
          Action: "sts:AssumeRoleWithWebIdentity",
          Condition: {
            StringEquals: { [`${GITHUB_OIDC_HOST}:aud`]: "sts.amazonaws.com", [`${GITHUB_OIDC_HOST}:sub`]: subject },
          },
        },
      ]),
    });
  }
}

/** The ARNs of one environment's pipeline resources, built from their names (the stack is not deployed yet). */
function environmentArns(props: GithubCiRolesProps) {
  const { partition: p, region: r, accountId: a, names } = props;
  const queue = (name: string) => `arn:${p}:sqs:${r}:${a}:${name}`;
  const topic = (name: string) => `arn:${p}:sns:${r}:${a}:${name}`;
  return {
    topics: [topic(names.topic), topic(names.alarmTopic)].flatMap((t) => [t, `${t}:*`]),
    queues: [names.queue, names.deadLetterQueue, names.deliveryDeadLetterQueue].map(queue),
    table: `arn:${p}:dynamodb:${r}:${a}:table/${names.table}`,
    fn: `arn:${p}:lambda:${r}:${a}:function:${names.function}`,
    eventSourceMappings: `arn:${p}:lambda:${r}:${a}:event-source-mapping:*`,
    functionRole: `arn:${p}:iam::${a}:role/${names.function}Role`,
    logGroup: `arn:${p}:logs:${r}:${a}:log-group:/aws/lambda/${names.function}`,
    logGroups: `arn:${p}:logs:${r}:${a}:log-group:*`,
    alarms: alarmArns({ partition: p, region: r, accountId: a }, names.alarmTopic),
    // Dashboards are global: their ARNs name no region.
    dashboard: `arn:${p}:cloudwatch::${a}:dashboard/${names.dashboard}`,
    keys: `arn:${p}:kms:${r}:${a}:key/*`,
    keyAlias: `arn:${p}:kms:${r}:${a}:${names.keyAlias}`,
  };
}

type Arns = ReturnType<typeof environmentArns>;

/** Keys of this project and environment only: the provider's default tags are on every key it creates. */
function taggedForEnvironment(environment: string, tag: "aws:ResourceTag" | "aws:RequestTag") {
  return { StringEquals: { [`${tag}/project`]: PROJECT_TAG, [`${tag}/environment`]: environment } };
}

/** State: read the state object, write and delete only its lock object, with the state key. */
function stateStatements(props: GithubCiRolesProps, writesState: boolean): PolicyStatement[] {
  const object = `${props.stateBucketArn}/${props.stateObjectKey}`;
  return [
    { Sid: "ListStateBucket", Effect: "Allow", Action: "s3:ListBucket", Resource: props.stateBucketArn },
    { Sid: "ReadState", Effect: "Allow", Action: "s3:GetObject", Resource: object },
    {
      Sid: writesState ? "WriteStateAndLock" : "WriteLockOnly",
      Effect: "Allow",
      Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
      Resource: writesState ? [object, `${object}.tflock`] : `${object}.tflock`,
    },
    {
      Sid: "UseStateKey",
      Effect: "Allow",
      Action: ["kms:Decrypt", "kms:GenerateDataKey"],
      Resource: props.stateKeyArn,
    },
  ];
}

/** What `cdktf diff` reads to refresh and plan: descriptions, attributes, policies and tags, no data. */
function planStatements(props: GithubCiRolesProps, arns: Arns): PolicyStatement[] {
  return [
    ...stateStatements(props, false),
    { Sid: "ReadTopics", Effect: "Allow", Action: ["sns:Get*", "sns:List*"], Resource: arns.topics },
    { Sid: "ReadQueues", Effect: "Allow", Action: ["sqs:GetQueue*", "sqs:ListQueueTags"], Resource: arns.queues },
    {
      Sid: "ReadTable",
      Effect: "Allow",
      Action: ["dynamodb:Describe*", "dynamodb:ListTagsOfResource"],
      Resource: arns.table,
    },
    {
      Sid: "ReadFunction",
      Effect: "Allow",
      Action: ["lambda:Get*", "lambda:List*"],
      Resource: [arns.fn, arns.eventSourceMappings],
    },
    {
      Sid: "ReadFunctionRole",
      Effect: "Allow",
      Action: ["iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies"],
      Resource: arns.functionRole,
    },
    {
      Sid: "ReadLogsAndAlarms",
      Effect: "Allow",
      Action: [
        "logs:DescribeLogGroups",
        "logs:ListTagsForResource",
        "logs:ListTagsLogGroup",
        "cloudwatch:DescribeAlarms",
        "cloudwatch:ListTagsForResource",
        "cloudwatch:GetDashboard",
      ],
      Resource: [arns.logGroups, ...arns.alarms, arns.dashboard],
    },
    {
      Sid: "ReadKey",
      Effect: "Allow",
      Action: ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags"],
      Resource: arns.keys,
      Condition: taggedForEnvironment(props.environment, "aws:ResourceTag"),
    },
    // ListAliases has no resource-level permissions: IAM accepts only "*" for it.
    { Sid: "ListKeyAliases", Effect: "Allow", Action: "kms:ListAliases", Resource: "*" },
  ];
}

/**
 * What the deploy role may do to the function's role, listed one by one: a pattern such as iam:*Role
 * would also grant iam:PassRole without its condition.
 */
const FUNCTION_ROLE_ACTIONS = [
  "iam:CreateRole",
  "iam:DeleteRole",
  "iam:GetRole",
  "iam:UpdateRole",
  "iam:UpdateRoleDescription",
  "iam:UpdateAssumeRolePolicy",
  "iam:TagRole",
  "iam:UntagRole",
  "iam:ListRoleTags",
  "iam:PutRolePolicy",
  "iam:GetRolePolicy",
  "iam:DeleteRolePolicy",
  "iam:ListRolePolicies",
  "iam:ListAttachedRolePolicies",
  "iam:ListInstanceProfilesForRole",
  // `orders verify` after the deploy simulates the role's policy.
  "iam:SimulatePrincipalPolicy",
];

/**
 * The stack's key, found by its tags (its id is not known before it exists). Tags decide access here, so
 * tagging must not bring a key under the role: KMS authorizes the tags of a `CreateKey` as `kms:TagResource`
 * on no particular key ("To add tags while creating a KMS key, the principal must have permission in an IAM
 * policy that isn't restricted to particular KMS keys":
 * https://docs.aws.amazon.com/kms/latest/developerguide/tag-permissions.html), so tag-on-create is allowed
 * on "*" with the request's tags, and tagging or untagging an existing key (its ARN) is denied unless that
 * key already carries this project's and environment's tags (a negated operator is true for an absent tag).
 */
function keyStatements(environment: string, arns: Arns): PolicyStatement[] {
  const denyUnless = (Sid: string, tag: "project" | "environment", value: string): PolicyStatement => ({
    Sid,
    Effect: "Deny",
    Action: ["kms:TagResource", "kms:UntagResource"],
    Resource: arns.keys,
    Condition: { StringNotEquals: { [`aws:ResourceTag/${tag}`]: value } },
  });
  return [
    {
      Sid: "ManageKey",
      Effect: "Allow",
      Action: "kms:*",
      Resource: arns.keys,
      Condition: taggedForEnvironment(environment, "aws:ResourceTag"),
    },
    {
      // CreateKey has no resource-level permissions; a new key must carry this environment's tags, and only them.
      Sid: "CreateTaggedKey",
      Effect: "Allow",
      Action: ["kms:CreateKey", "kms:TagResource"],
      Resource: "*",
      Condition: {
        ...taggedForEnvironment(environment, "aws:RequestTag"),
        "ForAllValues:StringEquals": { "aws:TagKeys": ["project", "environment"] },
      },
    },
    // Two statements: the keys of one condition operator must all match, so one statement would deny only a key
    // whose project and environment tags both differ.
    denyUnless("RetagOnlyProjectKeys", "project", PROJECT_TAG),
    denyUnless("RetagOnlyEnvironmentKeys", "environment", environment),
  ];
}

/**
 * Event source mappings of the stack's function only: Lambda evaluates `lambda:FunctionArn` on
 * CreateEventSourceMapping (on "*", the mapping does not exist yet), UpdateEventSourceMapping and
 * DeleteEventSourceMapping (https://docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html).
 * Reading a mapping and its tags needs no condition; tags grant nothing in this project's policies.
 */
function eventSourceMappingStatements(arns: Arns): PolicyStatement[] {
  const ofFunction = { ArnEquals: { "lambda:FunctionArn": arns.fn } };
  return [
    {
      Sid: "MapQueueToFunction",
      Effect: "Allow",
      Action: "lambda:CreateEventSourceMapping",
      Resource: "*",
      Condition: ofFunction,
    },
    {
      Sid: "ChangeFunctionMappings",
      Effect: "Allow",
      Action: ["lambda:UpdateEventSourceMapping", "lambda:DeleteEventSourceMapping"],
      Resource: arns.eventSourceMappings,
      Condition: ofFunction,
    },
    {
      Sid: "ReadAndTagMappings",
      Effect: "Allow",
      Action: ["lambda:GetEventSourceMapping", "lambda:ListTags", "lambda:TagResource", "lambda:UntagResource"],
      Resource: arns.eventSourceMappings,
    },
  ];
}

/** What `cdktf deploy` of OrderSystemStack changes: exactly this environment's resources. */
function deployStatements(props: GithubCiRolesProps, arns: Arns): PolicyStatement[] {
  return [
    ...stateStatements(props, true),
    { Sid: "ManageTopics", Effect: "Allow", Action: "sns:*", Resource: arns.topics },
    { Sid: "ManageQueues", Effect: "Allow", Action: "sqs:*", Resource: arns.queues },
    { Sid: "ManageTable", Effect: "Allow", Action: "dynamodb:*", Resource: arns.table },
    { Sid: "ManageFunction", Effect: "Allow", Action: "lambda:*", Resource: arns.fn },
    ...eventSourceMappingStatements(arns),
    {
      Sid: "ManageFunctionRole",
      Effect: "Allow",
      Action: FUNCTION_ROLE_ACTIONS,
      Resource: arns.functionRole,
    },
    {
      Sid: "PassFunctionRoleToLambda",
      Effect: "Allow",
      Action: "iam:PassRole",
      Resource: arns.functionRole,
      Condition: { StringEquals: { "iam:PassedToService": "lambda.amazonaws.com" } },
    },
    { Sid: "ManageLogGroup", Effect: "Allow", Action: "logs:*", Resource: [arns.logGroup, `${arns.logGroup}:*`] },
    { Sid: "DescribeLogGroups", Effect: "Allow", Action: "logs:DescribeLogGroups", Resource: arns.logGroups },
    {
      Sid: "ManageAlarmsAndDashboard",
      Effect: "Allow",
      Action: "cloudwatch:*",
      Resource: [...arns.alarms, arns.dashboard],
    },
    ...keyStatements(props.environment, arns),
    // An alias has no tags; creating or moving it also needs the (tagged) key's permission above.
    {
      Sid: "ManageKeyAlias",
      Effect: "Allow",
      Action: ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"],
      Resource: arns.keyAlias,
    },
    { Sid: "ListKeyAliases", Effect: "Allow", Action: "kms:ListAliases", Resource: "*" },
    // `orders verify` simulates OrderQueue's policy; SimulateCustomPolicy has no resource to scope to.
    { Sid: "SimulateQueuePolicy", Effect: "Allow", Action: "iam:SimulateCustomPolicy", Resource: "*" },
  ];
}
