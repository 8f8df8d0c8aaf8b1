import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketLifecycleConfiguration } from "@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration";
import { S3BucketOwnershipControls } from "@cdktf/provider-aws/lib/s3-bucket-ownership-controls";
import { S3BucketPolicy } from "@cdktf/provider-aws/lib/s3-bucket-policy";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { S3BucketServerSideEncryptionConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration";
import { S3BucketVersioningA } from "@cdktf/provider-aws/lib/s3-bucket-versioning";
import { Construct } from "constructs";
import { denyInsecureTransport, policyDocument } from "./policy";

export interface StateBucketProps {
  /** The bucket's globally unique name. */
  readonly bucketName: string;
  /** Days a superseded state version is kept before it expires. @default 90 */
  readonly noncurrentVersionDays?: number;
}

/** Days after which an unfinished multipart upload (an interrupted state write) is aborted and its parts deleted. */
const ABORT_INCOMPLETE_UPLOADS_DAYS = 7;

/** The S3 bucket that holds Terraform state: versioned, encrypted, private, TLS only, never destroyed by Terraform. */
export class StateBucket extends Construct {
  public readonly bucket: S3Bucket;
  public readonly bucketName: string;

  constructor(scope: Construct, id: string, props: StateBucketProps) {
    super(scope, id);
    this.bucket = new S3Bucket(this, "Bucket", { bucket: props.bucketName, lifecycle: { preventDestroy: true } });
    this.bucketName = this.bucket.bucket;
    new S3BucketVersioningA(this, "Versioning", { bucket: this.bucket.id, versioningConfiguration: { status: "Enabled" } });
    new S3BucketServerSideEncryptionConfigurationA(this, "Encryption", {
      bucket: this.bucket.id,
      rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms" }, bucketKeyEnabled: true }],
    });
    new S3BucketPublicAccessBlock(this, "PublicAccessBlock", {
      bucket: this.bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    new S3BucketOwnershipControls(this, "Ownership", { bucket: this.bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } });
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
}
