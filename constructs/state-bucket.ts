import { KmsAlias } from "@cdktf/provider-aws/lib/kms-alias";
import { KmsKey } from "@cdktf/provider-aws/lib/kms-key";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketLifecycleConfiguration } from "@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration";
import { S3BucketOwnershipControls } from "@cdktf/provider-aws/lib/s3-bucket-ownership-controls";
import { S3BucketPolicy } from "@cdktf/provider-aws/lib/s3-bucket-policy";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { S3BucketServerSideEncryptionConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration";
import { S3BucketVersioningA } from "@cdktf/provider-aws/lib/s3-bucket-versioning";
import { Construct } from "constructs";
import { accountRoot, denyInsecureTransport, policyDocument } from "./policy";

export interface StateBucketProps {
  /** The bucket's globally unique name. */
  readonly bucketName: string;
  /** Days a superseded state version is kept before it expires. @default 90 */
  readonly noncurrentVersionDays?: number;
  /** Alias of the key state is encrypted with; the S3 backend of the stacks names it (`kms_key_id`). */
  readonly keyAlias: string;
  /** The owning account id and partition (literals or references), for the key policy. */
  readonly accountId: string;
  readonly partition: string;
}

/** Days after which an unfinished multipart upload (an interrupted state write) is aborted and its parts deleted. */
const ABORT_INCOMPLETE_UPLOADS_DAYS = 7;

/** The S3 bucket that holds Terraform state: versioned, encrypted, private, TLS only, never destroyed by Terraform. */
export class StateBucket extends Construct {
  public readonly bucket: S3Bucket;
  public readonly bucketName: string;
  /** The customer-managed key the bucket and every state and lock object are encrypted with. */
  public readonly key: KmsKey;

  constructor(scope: Construct, id: string, props: StateBucketProps) {
    super(scope, id);
    this.bucket = new S3Bucket(this, "Bucket", { bucket: props.bucketName, lifecycle: { preventDestroy: true } });
    this.bucketName = this.bucket.bucket;
    this.key = new KmsKey(this, "Key", {
      description: `Encrypts Terraform state in ${props.bucketName} (${props.keyAlias})`,
      enableKeyRotation: true,
      deletionWindowInDays: 30,
      // AWS's default key policy: the account administers and uses the key through IAM.
      policy: policyDocument([
        {
          Sid: "AccountAdministersKey",
          Effect: "Allow",
          Principal: { AWS: accountRoot(props.partition, props.accountId) },
          Action: "kms:*",
          Resource: "*",
        },
      ]),
    });
    new KmsAlias(this, "KeyAlias", { name: props.keyAlias, targetKeyId: this.key.keyId });
    this.secureBucket();
    new S3BucketLifecycleConfiguration(this, "Lifecycle", {
      bucket: this.bucket.id,
      rule: [
        {
          id: "expire-old-state-versions",
          status: "Enabled",
          filter: [{ prefix: "" }],
          noncurrentVersionExpiration: [{ noncurrentDays: props.noncurrentVersionDays ?? 90 }],
          // Every state write and lock release leaves a delete marker or a superseded version; once the
          // versions behind a marker expire, the marker itself is removed.
          expiration: [{ expiredObjectDeleteMarker: true }],
          abortIncompleteMultipartUpload: [{ daysAfterInitiation: ABORT_INCOMPLETE_UPLOADS_DAYS }],
        },
      ],
    });
    new S3BucketPolicy(this, "Policy", {
      bucket: this.bucket.id,
      policy: policyDocument([denyInsecureTransport("s3:*", [this.bucket.arn, `${this.bucket.arn}/*`])]),
    });
  }

  /** Versioned, SSE-KMS under the state key, no public access, owner-enforced objects. */
  private secureBucket(): void {
    new S3BucketVersioningA(this, "Versioning", {
      bucket: this.bucket.id,
      versioningConfiguration: { status: "Enabled" },
    });
    new S3BucketServerSideEncryptionConfigurationA(this, "Encryption", {
      bucket: this.bucket.id,
      rule: [
        {
          applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: this.key.arn },
          bucketKeyEnabled: true,
        },
      ],
    });
    new S3BucketPublicAccessBlock(this, "PublicAccessBlock", {
      bucket: this.bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    new S3BucketOwnershipControls(this, "Ownership", {
      bucket: this.bucket.id,
      rule: { objectOwnership: "BucketOwnerEnforced" },
    });
  }
}
