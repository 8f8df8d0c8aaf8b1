/**
 * What the operators' console (`npm run orders -- console`) may do on this stack, as two statement sets
 * the stack outputs (`operator_console_policies`) for the operators' role: `read` holds exactly the calls
 * its views make, on this stack's resources; `changes` adds what `--allow-changes` does (redrive, delete,
 * publish). They are outputs, not resources: who the operators are (a role, an SSO permission set) is the
 * account's choice, and docs/operations.md shows how to attach them. `orders verify` simulates both.
 */
import { policyDocument, PolicyStatement } from "./policy";
import type { RoleGrant } from "./order-processor";

export interface ConsoleResources {
  readonly topicArn: string;
  readonly queueArn: string;
  readonly deadLetterQueueArn: string;
  readonly deliveryDeadLetterQueueArn: string;
  readonly tableArn: string;
  /** The function's log group (its ARN without the trailing `:*`). */
  readonly logGroupArn: string;
  readonly keyArn: string;
}

export interface ConsoleAccess {
  readonly read: RoleGrant[];
  readonly changes: RoleGrant[];
}

export function consoleAccess(r: ConsoleResources): ConsoleAccess {
  return {
    read: [
      { sid: "QueueDepth", actions: ["sqs:GetQueueAttributes"], resource: r.queueArn },
      // Dead letters are read by receiving (SQS has no other way); the DLQ is encrypted with the stack's key.
      {
        sid: "PeekDeadLetters",
        actions: ["sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
        resource: r.deadLetterQueueArn,
      },
      {
        sid: "PeekUndeliverable",
        actions: ["sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
        resource: r.deliveryDeadLetterQueueArn,
      },
      { sid: "DecryptDeadLetters", actions: ["kms:Decrypt"], resource: r.keyArn },
      { sid: "ReadFunctionLog", actions: ["logs:FilterLogEvents"], resource: `${r.logGroupArn}:*` },
      {
        sid: "ReadTable",
        actions: ["dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:Scan"],
        resource: r.tableArn,
      },
      // GetMetricData takes no resource (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html).
      { sid: "ReadMetrics", actions: ["cloudwatch:GetMetricData"], resource: "*" },
    ],
    changes: [
      {
        sid: "RedriveDeadLetters",
        actions: ["sqs:StartMessageMoveTask", "sqs:ListMessageMoveTasks", "sqs:ReceiveMessage", "sqs:DeleteMessage"],
        resource: r.deadLetterQueueArn,
      },
      {
        sid: "MoveUndeliverable",
        actions: ["sqs:ReceiveMessage", "sqs:DeleteMessage"],
        resource: r.deliveryDeadLetterQueueArn,
      },
      // OrderQueue's own policy must list the role too (ORDER_REDRIVE_PRINCIPALS).
      { sid: "SendToOrderQueue", actions: ["sqs:SendMessage"], resource: r.queueArn },
      { sid: "PublishOrders", actions: ["sns:Publish"], resource: r.topicArn },
      { sid: "EncryptForQueue", actions: ["kms:GenerateDataKey", "kms:Decrypt"], resource: r.keyArn },
    ],
  };
}

/** A statement set as the policy document IAM takes. */
export function grantsDocument(grants: RoleGrant[]): string {
  return policyDocument(
    grants.map((g): PolicyStatement => ({ Sid: g.sid, Effect: "Allow", Action: g.actions, Resource: g.resource })),
  );
}
