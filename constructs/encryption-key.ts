import { KmsAlias } from "@cdktf/provider-aws/lib/kms-alias";
import { KmsKey } from "@cdktf/provider-aws/lib/kms-key";
import { KmsKeyPolicy } from "@cdktf/provider-aws/lib/kms-key-policy";
import { Construct } from "constructs";
import { accountRoot, policyDocument, PolicyStatement } from "./policy";
import { requireThat, requireWholeNumber } from "./settings";

export interface EncryptionKeyProps {
  /** Alias of the key, e.g. `alias/order-system`. */
  readonly alias: string;
  /** The owning account id (a literal or a reference). */
  readonly accountId: string;
  /** The partition (`aws`, `aws-cn`, ...), a literal or a reference. */
  readonly partition: string;
  /** Topics SNS may use the key for (they encrypt with it and deliver to queues encrypted with it). */
  readonly snsSourceArns: string[];
  /** CloudWatch alarms that may publish to topics encrypted with the key. @default none */
  readonly cloudWatchAlarmArns?: string[];
  /** Days before a scheduled deletion takes effect. @default 30 */
  readonly deletionWindowDays?: number;
}

/**
 * A customer-managed, rotated KMS key for the pipeline's topics and queues. Its policy is a separate
 * resource, so it can name the topics that are themselves encrypted with the key without a cycle.
 */
export class EncryptionKey extends Construct {
  public readonly key: KmsKey;
  public readonly alias: KmsAlias;
  public readonly keyPolicy: KmsKeyPolicy;
  /** The key's ARN, for IAM policies. */
  public readonly keyArn: string;
  /** The key's id, for `kms_master_key_id` attributes. */
  public readonly keyId: string;

  constructor(scope: Construct, id: string, props: EncryptionKeyProps) {
    super(scope, id);
    requireThat(
      props.snsSourceArns.length > 0,
      `EncryptionKey "${id}": snsSourceArns is empty; pass the ARNs of the topics that use the key.`,
    );
    const deletionWindowDays = props.deletionWindowDays ?? 30;
    requireWholeNumber(`EncryptionKey "${id}"`, "deletionWindowDays", deletionWindowDays, 7, 30);

    this.key = new KmsKey(this, "Key", {
      description: `Encrypts the order pipeline's topics and queues (${props.alias})`,
      enableKeyRotation: true,
      deletionWindowInDays: deletionWindowDays,
    });
    this.alias = new KmsAlias(this, "Alias", { name: props.alias, targetKeyId: this.key.keyId });
    this.keyArn = this.key.arn;
    this.keyId = this.key.keyId;

    // A service may encrypt and decrypt with the key only on behalf of the named resources.
    const serviceUses = (Sid: string, service: string, sourceArns: string[]): PolicyStatement => ({
      Sid,
      Effect: "Allow",
      Principal: { Service: service },
      Action: ["kms:GenerateDataKey*", "kms:Decrypt"],
      Resource: "*",
      Condition: { ArnLike: { "aws:SourceArn": sourceArns } },
    });
    const statements: PolicyStatement[] = [
      {
        // AWS's default first statement: the account administers the key through IAM, so it can never become unmanageable.
        Sid: "AccountAdministersKey",
        Effect: "Allow",
        Principal: { AWS: accountRoot(props.partition, props.accountId) },
        Action: "kms:*",
        Resource: "*",
      },
      serviceUses("SnsUsesKeyForOrderTopics", "sns.amazonaws.com", props.snsSourceArns),
    ];
    if (props.cloudWatchAlarmArns && props.cloudWatchAlarmArns.length > 0) {
      statements.push(serviceUses("CloudWatchUsesKeyForAlarms", "cloudwatch.amazonaws.com", props.cloudWatchAlarmArns));
    }
    this.keyPolicy = new KmsKeyPolicy(this, "Policy", { keyId: this.key.keyId, policy: policyDocument(statements) });
  }
}
