import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { Construct } from "constructs";
import { EnvironmentConfig } from "./environments";

/** The project tag every resource carries, beside its environment. */
export const PROJECT_TAG = "order-system";

/** The AWS account and partition a stack deploys to, as values usable in ARNs. */
export interface AwsTarget {
  readonly accountId: string;
  readonly partition: string;
}

/**
 * Configures the AWS provider for an environment: its region, default tags, and (when the account
 * is configured) `allowed_account_ids`, so credentials for another account fail before any change.
 * Without a configured account, the caller's account is looked up at plan time.
 */
export function configureAws(scope: Construct, config: EnvironmentConfig): AwsTarget {
  new AwsProvider(scope, "aws", {
    region: config.region,
    allowedAccountIds: config.accountId ? [config.accountId] : undefined,
    defaultTags: [{ tags: { project: PROJECT_TAG, environment: config.name } }],
  });
  const partition = new DataAwsPartition(scope, "partition").partition;
  const accountId = config.accountId ?? new DataAwsCallerIdentity(scope, "caller").accountId;
  return { accountId, partition };
}
