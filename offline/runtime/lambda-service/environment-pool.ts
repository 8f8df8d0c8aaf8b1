/**
 * The execution environments of the stack's functions. In this runtime "environment" means one of these:
 * a worker running one function's bundle. An idle warm one is reused, as Lambda does; otherwise a cold
 * one starts (its first invocation is a cold start). What the function sees of its surroundings (variables,
 * region, credentials, the local DynamoDB endpoint) is `functionVariables`.
 */
import { LOCAL_CREDENTIALS } from "../../../common/local-credentials";
import { ExecutionEnvironment } from "./lambda-host";
import { FunctionModel } from "../stack-model";

/** What Lambda gives the function: its variables, region, credentials; here also the local endpoint. */
export function functionVariables(fn: FunctionModel, region: string, dynamodbEndpoint: string): Record<string, string> {
  return {
    ...fn.variables,
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_LAMBDA_FUNCTION_NAME: fn.name,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: dynamodbEndpoint,
  };
}

export class EnvironmentPool {
  /** Warm environments waiting for an invocation, per function; busy ones are not here. */
  private readonly idle = new Map<string, ExecutionEnvironment[]>();
  private readonly started: ExecutionEnvironment[] = [];
  /** Code that replaced a function's bundle (`--watch`), by function ARN. */
  private readonly code = new Map<string, string>();

  constructor(private readonly create: (fn: FunctionModel) => ExecutionEnvironment) {}

  /** A warm environment of the function running its current code if one is idle, else a cold one. */
  acquire(fn: FunctionModel): ExecutionEnvironment {
    const idle = this.idleOf(fn);
    while (idle.length > 0) {
      const warm = idle.pop()!;
      if (warm.alive) return warm;
    }
    const environment = this.create({ ...fn, file: this.code.get(fn.arn) ?? fn.file });
    this.started.push(environment);
    environment.number = this.started.length;
    return environment;
  }

  /**
   * Back to the idle list after an invocation, unless it was terminated (a timeout kills it) or its code
   * was replaced meanwhile (it is ended: the next invocation starts fresh on the new code).
   */
  release(fn: FunctionModel, environment: ExecutionEnvironment): void {
    if (!environment.alive) return;
    if (environment.fn.file !== (this.code.get(fn.arn) ?? fn.file)) void environment.terminate();
    else this.idleOf(fn).push(environment);
  }

  /** From now on the function runs `file`: idle environments end, busy ones end after their invocation. */
  replaceCode(fn: FunctionModel, file: string): void {
    this.code.set(fn.arn, file);
    for (const environment of this.idleOf(fn).splice(0)) void environment.terminate();
  }

  async terminateAll(): Promise<void> {
    await Promise.all(this.started.map((environment) => environment.terminate()));
  }

  private idleOf(fn: FunctionModel): ExecutionEnvironment[] {
    const idle = this.idle.get(fn.arn) ?? [];
    this.idle.set(fn.arn, idle);
    return idle;
  }
}
