import * as path from "node:path";

/**
 * Environments and the names derived from them: the one place where a resource name is made.
 * An environment is picked by `ORDER_ENV` (or the `environment` context in cdktf.json).
 */

/** Names the product knows (OrderTopic, OrderQueue, DLQ, Orders, OrderSystemStack); every environment's names derive from these. */
export const BASE_NAMES = {
  stack: "OrderSystemStack",
  stateStack: "OrderStateStack",
  topic: "OrderTopic",
  queue: "OrderQueue",
  deadLetterQueue: "DLQ",
  deliveryDeadLetterQueue: "OrderTopicDeliveryDLQ",
  table: "Orders",
  function: "OrderProcessor",
  alarmTopic: "OrderAlarms",
  keyAlias: "alias/order-system",
  dashboard: "OrderPipeline",
  planRole: "OrderPipelinePlan",
  deployRole: "OrderPipelineDeploy",
  stateKeyAlias: "alias/order-system-state",
} as const;

export type ResourceNames = { readonly [K in keyof typeof BASE_NAMES]: string };

interface EnvironmentProfile {
  /** Production environments protect data from deletion and keep logs longer. */
  readonly production: boolean;
  readonly defaultRegion: string;
  readonly logRetentionDays: number;
  /**
   * Reserve the function's concurrency (as much as the event source mapping's maximum concurrency), so
   * other functions of the account cannot starve it: with maxReceiveCount 3, throttled polls count as
   * receives and would dead-letter good orders.
   */
  readonly reservesConcurrency: boolean;
  /** Where no state bucket is configured, this one is used; production requires an explicit one. */
  readonly defaultStateBucket?: string;
}

const PROFILES: Record<string, EnvironmentProfile> = {
  dev: {
    production: false,
    defaultRegion: "us-east-1",
    logRetentionDays: 14,
    reservesConcurrency: false,
    defaultStateBucket: "order-system-tfstate-dev",
  },
  staging: { production: false, defaultRegion: "us-east-1", logRetentionDays: 30, reservesConcurrency: false },
  prod: { production: true, defaultRegion: "us-east-1", logRetentionDays: 90, reservesConcurrency: true },
};

export const DEFAULT_ENVIRONMENT = "dev";

/** The key of an environment's OrderSystemStack state object in its state bucket. */
export function stateObjectKey(environment: string): string {
  return `order-system/${environment}/terraform.tfstate`;
}
export const ENVIRONMENT_NAMES = Object.keys(PROFILES);

/** The configuration variables a user sets; each also works as a cdktf.json context key. */
export const CONFIG_VARIABLES = {
  environment: "ORDER_ENV",
  region: "ORDER_REGION",
  accountId: "ORDER_ACCOUNT_ID",
  stateBucket: "ORDER_STATE_BUCKET",
  alarmEmail: "ORDER_ALARM_EMAIL",
  bootstrapStateDir: "ORDER_BOOTSTRAP_STATE_DIR",
  redrivePrincipals: "ORDER_REDRIVE_PRINCIPALS",
  githubRepository: "ORDER_GITHUB_REPOSITORY",
  githubOidcProviderArn: "ORDER_GITHUB_OIDC_PROVIDER_ARN",
} as const;

/**
 * Where each environment's bootstrap stack keeps its local state, unless ORDER_BOOTSTRAP_STATE_DIR says
 * otherwise: a folder of the project, outside cdktf.out, because `cdktf synth` deletes every stack
 * folder the current synthesis does not produce (synthesizing staging would delete dev's state).
 */
export const DEFAULT_BOOTSTRAP_STATE_DIR = "terraform-state";

export interface EnvironmentConfig {
  readonly name: string;
  readonly production: boolean;
  readonly region: string;
  /** The AWS account the stack may deploy to; when unset, the caller's account is looked up. */
  readonly accountId?: string;
  readonly stateBucket: string;
  readonly logRetentionDays: number;
  /** Whether the function reserves the event source mapping's maximum concurrency. */
  readonly reservesConcurrency: boolean;
  readonly alarmEmail?: string;
  /** Absolute path of the bootstrap stack's local state file; outside cdktf.out, one per environment. */
  readonly bootstrapStatePath: string;
  /** IAM roles, besides SNS for the order topic, that may send to OrderQueue: the operators who redrive. */
  readonly redrivePrincipalArns: readonly string[];
  /** The GitHub repository (`owner/name`) whose workflows get CI roles; none when unset. */
  readonly githubRepository?: string;
  /** An existing GitHub OIDC provider of the account to trust; when unset, the bootstrap stack creates one. */
  readonly githubOidcProviderArn?: string;
  readonly names: ResourceNames;
}

/** Reads a setting from the environment first, then from the app's context. */
export type SettingSource = (key: keyof typeof CONFIG_VARIABLES) => string | undefined;

export function settingsFrom(
  env: NodeJS.ProcessEnv,
  context: (key: string) => unknown = () => undefined,
): SettingSource {
  return (key) => {
    const fromEnv = env[CONFIG_VARIABLES[key]];
    if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
    const fromContext = context(key);
    return typeof fromContext === "string" && fromContext !== "" ? fromContext : undefined;
  };
}

/** Every environment's names derive from BASE_NAMES here; the default environment keeps them as they are. */
export function resourceNames(environment: string): ResourceNames {
  const suffix = environment === DEFAULT_ENVIRONMENT ? "" : `-${environment}`;
  const names = {} as Record<keyof typeof BASE_NAMES, string>;
  for (const key of Object.keys(BASE_NAMES) as (keyof typeof BASE_NAMES)[]) names[key] = BASE_NAMES[key] + suffix;
  return names;
}

const ACCOUNT_ID = /^\d{12}$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@\/-]{1,512}$/;
const OIDC_PROVIDER_ARN = /^arn:aws[a-z-]*:iam::\d{12}:oidc-provider\/token\.actions\.githubusercontent\.com$/;
const GITHUB_REPOSITORY = /^[A-Za-z0-9-]{1,39}\/[A-Za-z0-9._-]{1,100}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** The environment the settings pick (dev by default); an unknown one is an error saying what to set. */
export function environmentName(setting: SettingSource): string {
  const name = setting("environment") ?? DEFAULT_ENVIRONMENT;
  if (!Object.hasOwn(PROFILES, name)) {
    throw new Error(
      `Unknown environment "${name}". Set ${CONFIG_VARIABLES.environment} to one of: ${ENVIRONMENT_NAMES.join(", ")}.`,
    );
  }
  return name;
}

/** Resolves and validates one environment's configuration; a bad setting fails synth with what to set. */
export function resolveEnvironment(setting: SettingSource): EnvironmentConfig {
  const name = environmentName(setting);
  const profile = PROFILES[name];
  const region = setting("region") ?? profile.defaultRegion;
  if (!REGION.test(region)) {
    throw new Error(
      `Invalid AWS region "${region}". Set ${CONFIG_VARIABLES.region} to a region code such as us-east-1.`,
    );
  }
  const accountId = setting("accountId");
  if (accountId !== undefined && !ACCOUNT_ID.test(accountId)) {
    throw new Error(
      `Invalid AWS account id "${accountId}". Set ${CONFIG_VARIABLES.accountId} to the 12-digit account id.`,
    );
  }
  if (profile.production && accountId === undefined) {
    throw new Error(
      `Environment "${name}" is production: set ${CONFIG_VARIABLES.accountId} to the 12-digit AWS account it deploys to, so a stray credential cannot deploy it elsewhere.`,
    );
  }
  const stateBucket = setting("stateBucket") ?? profile.defaultStateBucket;
  if (stateBucket === undefined) {
    throw new Error(
      `Environment "${name}" needs a Terraform state bucket: set ${CONFIG_VARIABLES.stateBucket} to the S3 bucket created by the ${resourceNames(name).stateStack} stack.`,
    );
  }
  if (!BUCKET.test(stateBucket) || stateBucket.includes("..")) {
    throw new Error(
      `Invalid state bucket name "${stateBucket}". Set ${CONFIG_VARIABLES.stateBucket} to a valid S3 bucket name (3-63 lowercase letters, digits, dots, hyphens).`,
    );
  }
  const alarmEmail = setting("alarmEmail");
  if (alarmEmail !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(alarmEmail)) {
    throw new Error(
      `Invalid alarm e-mail "${alarmEmail}". Set ${CONFIG_VARIABLES.alarmEmail} to an address such as ops@example.com.`,
    );
  }
  return {
    ...ciSettings(setting),
    name,
    production: profile.production,
    region,
    accountId,
    stateBucket,
    logRetentionDays: profile.logRetentionDays,
    reservesConcurrency: profile.reservesConcurrency,
    alarmEmail,
    bootstrapStatePath: path.resolve(
      setting("bootstrapStateDir") ?? DEFAULT_BOOTSTRAP_STATE_DIR,
      `terraform.${resourceNames(name).stateStack}.tfstate`,
    ),
    names: resourceNames(name),
  };
}

/** The redrive principals and the GitHub CI settings, validated. */
function ciSettings(setting: SettingSource) {
  const redrivePrincipalArns = (setting("redrivePrincipals") ?? "")
    .split(",")
    .map((arn) => arn.trim())
    .filter(Boolean);
  for (const arn of redrivePrincipalArns) {
    if (!ROLE_ARN.test(arn)) {
      throw new Error(
        `Invalid redrive principal "${arn}". Set ${CONFIG_VARIABLES.redrivePrincipals} to comma-separated IAM role ARNs, e.g. arn:aws:iam::123456789012:role/order-operator.`,
      );
    }
  }
  const githubRepository = setting("githubRepository");
  if (githubRepository !== undefined && !GITHUB_REPOSITORY.test(githubRepository)) {
    throw new Error(
      `Invalid GitHub repository "${githubRepository}". Set ${CONFIG_VARIABLES.githubRepository} to owner/name, e.g. acme/order-pipeline (on GitHub Actions: $GITHUB_REPOSITORY).`,
    );
  }
  const githubOidcProviderArn = setting("githubOidcProviderArn");
  if (githubOidcProviderArn !== undefined && !OIDC_PROVIDER_ARN.test(githubOidcProviderArn)) {
    throw new Error(
      `Invalid GitHub OIDC provider "${githubOidcProviderArn}". Set ${CONFIG_VARIABLES.githubOidcProviderArn} to arn:aws:iam::<account>:oidc-provider/token.actions.githubusercontent.com, or leave it unset to create the provider.`,
    );
  }
  return { redrivePrincipalArns, githubRepository, githubOidcProviderArn };
}
