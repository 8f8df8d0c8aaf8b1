import { SnsTopic } from "@cdktf/provider-aws/lib/sns-topic";
import { SnsTopicPolicy } from "@cdktf/provider-aws/lib/sns-topic-policy";
import { Construct } from "constructs";
import { accountRoot, denyInsecureTransport, policyDocument, requireCustomerManagedKey, TOPIC_ACTIONS } from "./policy";

export interface OrderTopicProps {
  /** The topic's name, e.g. `OrderTopic`. */
  readonly topicName: string;
  /** Id of the customer-managed KMS key the topic encrypts with. */
  readonly kmsKeyId: string;
  /** The owning account id: only its principals may publish. */
  readonly accountId: string;
  /** The partition (`aws`, ...). */
  readonly partition: string;
}

/** The SNS topic orders are published to: encrypted, publishable only by the owning account, TLS only. */
export class OrderTopic extends Construct {
  public readonly topic: SnsTopic;
  public readonly topicPolicy: SnsTopicPolicy;
  public readonly topicArn: string;

  constructor(scope: Construct, id: string, props: OrderTopicProps) {
    super(scope, id);
    requireCustomerManagedKey(`OrderTopic "${id}"`, props.kmsKeyId);
    this.topic = new SnsTopic(this, "Topic", { name: props.topicName, kmsMasterKeyId: props.kmsKeyId });
    this.topicArn = this.topic.arn;
    this.topicPolicy = new SnsTopicPolicy(this, "Policy", {
      arn: this.topic.arn,
      policy: policyDocument([
        {
          Sid: "OwningAccountPublishes",
          Effect: "Allow",
          Principal: { AWS: accountRoot(props.partition, props.accountId) },
          Action: "sns:Publish",
          Resource: this.topic.arn,
        },
        denyInsecureTransport(TOPIC_ACTIONS, this.topic.arn),
      ]),
    });
  }
}
