import * as path from "node:path";
import { App, LocalBackend, TerraformOutput, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { configureAws } from "./aws-provider";
import { EnvironmentConfig, stateObjectKey } from "./environments";
import { GithubCiRoles } from "./github-ci-roles";
import { REQUIRED_TERRAFORM_VERSION } from "./settings";
import { StateBucket } from "./state-bucket";

export interface StateStackProps {
  readonly config: EnvironmentConfig;
}

/**
 * Bootstrap: creates the S3 bucket the OrderSystemStack keeps its state in and, with a GitHub
 * repository configured, the roles its workflows assume (plan and deploy). Its own (small) state
 * stays in a local file (`terraform-state/` of the project by default), so a new user goes from zero
 * to a remote backend with cdktf alone.
 */
export class StateStack extends TerraformStack {
  public readonly stateBucket: StateBucket;
  /** GitHub Actions' plan and deploy roles, when a repository is configured. */
  public readonly ciRoles?: GithubCiRoles;

  constructor(scope: Construct, props: StateStackProps) {
    const { config } = props;
    super(scope, config.names.stateStack);
    const aws = configureAws(this, config);
    // Outside cdktf.out: synthesizing another environment must never delete this state. Relative to the
    // stack's folder (where Terraform runs), so the synthesized JSON is the same in every checkout.
    const stackDir = path.resolve(App.of(this).outdir, "stacks", this.node.id);
    new LocalBackend(this, { path: path.relative(stackDir, config.bootstrapStatePath) });
    this.addOverride("terraform.required_version", REQUIRED_TERRAFORM_VERSION);
    this.stateBucket = new StateBucket(this, "StateBucket", {
      bucketName: config.stateBucket,
      keyAlias: config.names.stateKeyAlias,
      ...aws,
    });
    new TerraformOutput(this, "state_bucket", { value: this.stateBucket.bucketName });
    if (config.githubRepository) {
      this.ciRoles = new GithubCiRoles(this, "GithubCi", {
        repository: config.githubRepository,
        environment: config.name,
        names: config.names,
        oidcProviderArn: config.githubOidcProviderArn,
        stateBucketArn: this.stateBucket.bucket.arn,
        stateObjectKey: stateObjectKey(config.name),
        stateKeyArn: this.stateBucket.key.arn,
        ...aws,
        region: config.region,
      });
      // The repository variables AWS_PLAN_ROLE_ARN_<ENV> and AWS_ROLE_ARN_<ENV> of the workflow.
      new TerraformOutput(this, "plan_role_arn", { value: this.ciRoles.planRole.arn });
      new TerraformOutput(this, "deploy_role_arn", { value: this.ciRoles.deployRole.arn });
    }
  }
}
