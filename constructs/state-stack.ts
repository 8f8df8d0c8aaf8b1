import { LocalBackend, TerraformOutput, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { configureAws } from "./aws-provider";
import { EnvironmentConfig } from "./environments";
import { StateBucket } from "./state-bucket";

export interface StateStackProps {
  readonly config: EnvironmentConfig;
}

/**
 * Bootstrap: creates the S3 bucket the OrderSystemStack keeps its state in. Its own (small) state
 * stays in a local file, so a new user goes from zero to a remote backend with cdktf alone.
 */
export class StateStack extends TerraformStack {
  public readonly stateBucket: StateBucket;

  constructor(scope: Construct, props: StateStackProps) {
    const { config } = props;
    super(scope, config.names.stateStack);
    configureAws(this, config);
    new LocalBackend(this, { path: `terraform.${config.names.stateStack}.tfstate` });
    this.stateBucket = new StateBucket(this, "StateBucket", { bucketName: config.stateBucket });
    new TerraformOutput(this, "state_bucket", { value: this.stateBucket.bucketName });
  }
}
