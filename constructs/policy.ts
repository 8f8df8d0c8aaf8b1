/** Small builders for IAM policy JSON; tokens inside strings resolve to Terraform references at synth. */

export interface PolicyStatement {
  readonly Sid: string;
  readonly Effect: "Allow" | "Deny";
  readonly Principal?:
    "*" | { readonly AWS?: string | string[]; readonly Service?: string | string[]; readonly Federated?: string };
  readonly Action: string | string[];
  /** Omitted only in trust policies. */
  readonly Resource?: string | string[];
  readonly Condition?: Record<string, Record<string, string | string[]>>;
}

/** A policy document as the JSON string Terraform expects. */
export function policyDocument(statements: PolicyStatement[]): string {
  return JSON.stringify({ Version: "2012-10-17", Statement: statements });
}

/** Denies every request that does not use TLS. */
export function denyInsecureTransport(actions: string | string[], resources: string | string[]): PolicyStatement {
  return {
    Sid: "DenyInsecureTransport",
    Effect: "Deny",
    Principal: "*",
    Action: actions,
    Resource: resources,
    Condition: { Bool: { "aws:SecureTransport": "false" } },
  };
}

/** The account's root principal: delegates access to the account's own IAM policies. */
export function accountRoot(partition: string, accountId: string): string {
  return `arn:${partition}:iam::${accountId}:root`;
}

/** Lets SNS deliver to a queue, only from the given topic (the confused-deputy guard AWS asks for). */
export function allowSnsDelivery(queueArn: string, topicArn: string): PolicyStatement {
  return {
    Sid: "SnsDeliversFromOrderTopic",
    Effect: "Allow",
    Principal: { Service: "sns.amazonaws.com" },
    Action: "sqs:SendMessage",
    Resource: queueArn,
    Condition: { ArnEquals: { "aws:SourceArn": topicArn } },
  };
}

/**
 * Every action a topic policy can grant: the list of SNS's own default topic policy
 * (https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html), so a TLS-only Deny on
 * them covers whatever the topic accepts, not `sns:Publish` alone.
 */
export const TOPIC_ACTIONS = [
  "sns:GetTopicAttributes",
  "sns:SetTopicAttributes",
  "sns:AddPermission",
  "sns:RemovePermission",
  "sns:DeleteTopic",
  "sns:Subscribe",
  "sns:ListSubscriptionsByTopic",
  "sns:Publish",
];

/**
 * Denies `sqs:SendMessage` to everyone except SNS on behalf of `topicArn` and the listed IAM principals
 * (the operators' roles that redrive dead-lettered orders), whatever their own IAM policies allow.
 * A negated operator on a key that is absent from the request is true
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html):
 * an IAM principal sends no `aws:SourceArn` and a service principal has no `aws:PrincipalArn`, so SNS
 * delivering for the topic and a listed role each fail one of the two conditions and are not denied.
 */
export function denySendExceptFrom(
  queueArn: string,
  topicArn: string,
  principalArns: readonly string[],
): PolicyStatement {
  const notFrom: Record<string, string | string[]> = { "aws:SourceArn": topicArn };
  if (principalArns.length > 0) notFrom["aws:PrincipalArn"] = [...principalArns];
  return {
    Sid: "DenySendExceptOrderTopicAndRedrivers",
    Effect: "Deny",
    Principal: "*",
    Action: "sqs:SendMessage",
    Resource: queueArn,
    Condition: { ArnNotEquals: notFrom },
  };
}

/**
 * Denies `sqs:SendMessage` to every IAM principal of any account (users, roles, the root), whatever their
 * IAM policies allow: a dead-letter queue that no one sends to. SQS itself moves a message there after
 * `maxReceiveCount` receives, authorized by the DLQ's redrive allow policy, not by a send; a redrive out
 * of it needs receive and delete on the DLQ and a send to the source queue only
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-configure-dead-letter-queue-redrive.html).
 * `aws:PrincipalArn` is in the context of every request an IAM principal signs and absent for a service.
 */
export function denySendByIamPrincipals(queueArn: string): PolicyStatement {
  return {
    Sid: "DenySendToDeadLetterQueue",
    Effect: "Deny",
    Principal: "*",
    Action: "sqs:SendMessage",
    Resource: queueArn,
    Condition: { Null: { "aws:PrincipalArn": "false" } },
  };
}

/** Refuses an AWS-managed key where a service principal (SNS, CloudWatch) must use it. */
export function requireCustomerManagedKey(owner: string, kmsKeyId: string): void {
  if (/^alias\/aws\//.test(kmsKeyId)) {
    throw new Error(
      `${owner}: ${kmsKeyId} is an AWS-managed key, whose policy SNS cannot be granted; pass the id of a customer-managed key.`,
    );
  }
}
