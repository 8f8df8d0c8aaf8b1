/** Small builders for IAM policy JSON; tokens inside strings resolve to Terraform references at synth. */

export interface PolicyStatement {
  readonly Sid: string;
  readonly Effect: "Allow" | "Deny";
  readonly Principal?: "*" | { readonly AWS?: string | string[]; readonly Service?: string | string[] };
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

/** Refuses an AWS-managed key where a service principal (SNS, CloudWatch) must use it. */
export function requireCustomerManagedKey(owner: string, kmsKeyId: string): void {
  if (/^alias\/aws\//.test(kmsKeyId)) {
    throw new Error(
      `${owner}: ${kmsKeyId} is an AWS-managed key, whose policy SNS cannot be granted; pass the id of a customer-managed key.`,
    );
  }
}
