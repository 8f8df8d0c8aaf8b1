/**
 * The deploy proof (`npm run test:deploy`), one environment per test file (`deploy/deploy-proof-<env>.test.ts`)
 * so the three run side by side, each on a moto of its own: the environment's two stacks are deployed as the README's
 * "Deploying to AWS" steps say, on moto server (an AWS API emulator on loopback) with the real
 * `hashicorp/aws` provider: bootstrap the state bucket, apply the pipeline with its real S3 backend and
 * lock file in that bucket, re-plan both stacks (no changes), run the operator commands against what
 * was applied, then destroy, expecting the refusals the README promises and lifting them its way.
 */
import { DeleteObjectsCommand, HeadObjectCommand, ListObjectVersionsCommand, S3Client } from "@aws-sdk/client-s3";
import { DeleteItemCommand, DynamoDBClient, UpdateTableCommand } from "@aws-sdk/client-dynamodb";
import {
  GetQueueAttributesCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { EnvironmentConfig, resolveEnvironment, settingsFrom } from "../../constructs";
import { StackOutputs } from "../../operator/io";
import {
  Emulator,
  EMULATOR_CREDENTIALS,
  emulatorClientConfig,
  missingPythonTools,
  MOTO_ACCOUNT_ID,
  prepareForEmulator,
  startMoto,
} from "../support/emulator";
import { LambdaOnMoto, startLambdaServiceOnMoto } from "../support/moto-gaps";
import { verifyPassesThenFailsOnMoto } from "../support/deploy-proof-verify";
import { ConsoleFigures, consoleOnMoto } from "../support/deploy-proof-console";
import {
  awaitScenario,
  newestStored,
  notNewest,
  receiveFigures,
  ScenarioFigures,
  scenarioWorkload,
} from "../support/applied-scenario";
import { SAMPLE_ORDER } from "../support/orders";
import { resourceAddresses, synthAppTo, TEST_ENVIRONMENTS } from "../support/stacks";
import {
  offlineTerraform,
  OfflineTerraform,
  runTerraform,
  runTerraformAsync,
  TerraformRun,
} from "../support/terraform";
import { PROJECT_ROOT } from "../support/paths";

const ROOT = PROJECT_ROOT;
/** Terraform runs synchronously and waits on AWS-like propagation checks: each step may take minutes. */
const STEP_TIMEOUT_MS = 10 * 60_000;
/** Written per environment when the proof has run, so CI can tell it did not silently skip. */
const PROOF_RECORDS = path.join(ROOT, "cdktf.out", "deploy-proof");

const terraformTools = offlineTerraform();
const missing = missingPythonTools() ?? (typeof terraformTools === "string" ? terraformTools : undefined);
if (missing) {
  console.warn(`DEPLOY PROOF NOT RUN: ${missing}`);
  if (process.env.CI) throw new Error(`The deploy proof is required in CI: ${missing}`);
}
const describeProof = missing ? describe.skip : describe;

/** Each environment as a user configures it, pinned to moto's account wherever the stack pins one. */
function proofConfig(environment: string): EnvironmentConfig {
  const env = { ...TEST_ENVIRONMENTS[environment] };
  if (env.ORDER_ACCOUNT_ID) env.ORDER_ACCOUNT_ID = MOTO_ACCOUNT_ID;
  return resolveEnvironment(settingsFrom(env));
}

interface StackRecord {
  resources: number;
  applied: number;
  seconds: { apply: number; plan: number; destroy: number };
  emulatorWorkarounds: string[];
}

const record: {
  moto?: string;
  terraform?: string;
  stacks: Record<string, StackRecord>;
  scenario?: ScenarioFigures;
  console?: ConsoleFigures;
} = {
  stacks: {},
};

function timed(run: () => TerraformRun): { result: TerraformRun; seconds: number } {
  const started = performance.now();
  const result = run();
  return { result, seconds: Number(((performance.now() - started) / 1000).toFixed(1)) };
}

function expectSuccess(step: string, run: TerraformRun): void {
  expect({ step, status: run.status, stderr: run.stderr }).toEqual({ step, status: 0, stderr: "" });
}

interface StateResource {
  mode: string;
  type: string;
  instances: { attributes: Record<string, any> }[];
}

/**
 * The state as Terraform stores it, local or in the S3 backend (`terraform state pull`: no provider
 * started, where `terraform show -json` loads the provider's schema of every resource type).
 */
function pulledState(tools: OfflineTerraform, workDir: string): StateResource[] {
  const pull = runTerraform(tools, workDir, ["state", "pull"]);
  expectSuccess("state pull", pull);
  return pull.stdout.trim() ? (JSON.parse(pull.stdout).resources ?? []) : [];
}

/** How many resource instances Terraform manages in that state. */
function appliedResources(tools: OfflineTerraform, workDir: string): number {
  return pulledState(tools, workDir)
    .filter((r) => r.mode === "managed")
    .reduce((n, r) => n + r.instances.length, 0);
}

/** Registers the deploy proof of one environment (a test file's whole content). */
export function deployProof(environment: string): void {
  describeProof(`deploy proof on moto, ${environment}: apply, re-plan with no changes, operate, destroy`, () => {
    const tools = terraformTools as OfflineTerraform;
    const workRoot = fs.mkdtempSync(path.join(os.tmpdir(), "order-deploy-"));
    let moto: Emulator;

    beforeAll(async () => {
      moto = await startMoto(path.join(workRoot, "moto.log"));
      record.moto = moto.version;
      record.terraform = tools.terraform;
    });

    afterAll(async () => {
      await moto?.stop();
      fs.mkdirSync(PROOF_RECORDS, { recursive: true });
      fs.writeFileSync(path.join(PROOF_RECORDS, `${environment}.json`), JSON.stringify(record, null, 2));
      fs.rmSync(workRoot, { recursive: true, force: true });
    });

    describe(`environment ${environment}`, () => {
      const config = proofConfig(environment);
      const names = config.names;
      const stackDirs = synthAppTo(config, path.join(workRoot, environment, "out"));
      const work = (stack: string) => path.join(workRoot, environment, "work", stack);
      const expected = (stack: string) =>
        resourceAddresses(JSON.parse(fs.readFileSync(path.join(stackDirs[stack], "cdk.tf.json"), "utf8")));
      const prepared: Record<string, { backendConfig?: string; gaps: string[] }> = {};
      // Read once after the apply (each `terraform output` reads the state from the bucket): nothing re-applies.
      let outputsRead: StackOutputs | undefined;
      const appliedOutputs = (): StackOutputs =>
        (outputsRead ??= Object.fromEntries(
          Object.entries<{ value: unknown }>(
            JSON.parse(runTerraform(tools, work(names.stack), ["output", "-json"]).stdout),
          ).map(([k, v]) => [k, v.value]),
        ) as unknown as StackOutputs);
      const clients = () => ({
        s3: new S3Client(emulatorClientConfig(moto.endpoint, config.region)),
        sqs: new SQSClient(emulatorClientConfig(moto.endpoint, config.region)),
        dynamodb: new DynamoDBClient(emulatorClientConfig(moto.endpoint, config.region)),
      });

      /** `npm run orders -- <args>` on the applied stack's outputs, with moto's endpoint and credentials. */
      const operate = (...args: string[]) => {
        const outputsFile = path.join(work(names.stack), "outputs.json");
        fs.writeFileSync(outputsFile, JSON.stringify({ [names.stack]: appliedOutputs() }));
        return spawnSync(
          "npm",
          ["run", "--silent", "orders", "--", ...args, "--outputs", outputsFile, "--stack", names.stack],
          {
            cwd: ROOT,
            encoding: "utf8",
            env: {
              ...process.env,
              AWS_ENDPOINT_URL: moto.endpoint,
              AWS_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
              AWS_SECRET_ACCESS_KEY: EMULATOR_CREDENTIALS.secretAccessKey,
              AWS_PROFILE: "",
            },
          },
        );
      };
      /**
       * The Lambda service for what was applied (moto's mapping and function, the zip Terraform uploaded),
       * one for steps 5 and 6: stopping one aborts its long polls on this side only, and moto would still
       * hand the next message to such a poll, in flight for the visibility timeout. Queue durations at
       * 1/100 (a retry after 1.8 s, not 180 s); the function's timeout as applied.
       */
      let appliedLambda: Promise<LambdaOnMoto> | undefined;
      const lambdaOnMoto = () => {
        if (appliedLambda) return appliedLambda;
        const fn = pulledState(tools, work(names.stack)).find((r) => r.type === "aws_lambda_function")!;
        const uuid = appliedOutputs().verify!.event_source_mapping_uuid;
        const applied = { mappingUuid: uuid, zipFile: fn.instances[0].attributes.filename, workDir: work(names.stack) };
        return (appliedLambda = startLambdaServiceOnMoto(applied, moto.endpoint, config.region, 0.01));
      };
      const stopLambdaOnMoto = async () => {
        const running = appliedLambda;
        appliedLambda = undefined;
        await (await running)?.stop();
      };
      afterAll(stopLambdaOnMoto);

      const recordApplied = (stack: string, applied: number, seconds: number) => {
        const resources = expected(stack).length;
        record.stacks[stack] = {
          resources,
          applied,
          seconds: { apply: seconds, plan: 0, destroy: 0 },
          emulatorWorkarounds: prepared[stack].gaps,
        };
      };

      test(
        "1. bootstrap: OrderStateStack creates the state bucket (its state in a local file)",
        () => {
          const stack = names.stateStack;
          prepared[stack] = prepareForEmulator(stackDirs[stack], work(stack), moto.endpoint);
          expectSuccess("init", runTerraform(tools, work(stack), ["init", "-input=false", "-no-color"]));
          const apply = timed(() =>
            runTerraform(tools, work(stack), ["apply", "-auto-approve", "-input=false", "-no-color"]),
          );
          expectSuccess("apply", apply.result);
          const applied = appliedResources(tools, work(stack));
          // Every resource of the synthesized stack except those the emulator cannot hold.
          expect(applied).toBe(expected(stack).length);
          recordApplied(stack, applied, apply.seconds);
        },
        STEP_TIMEOUT_MS,
      );

      test(
        "2. OrderSystemStack applies with its real S3 backend and lock file in that bucket",
        async () => {
          const stack = names.stack;
          prepared[stack] = prepareForEmulator(stackDirs[stack], work(stack), moto.endpoint);
          const init = runTerraform(tools, work(stack), [
            "init",
            "-input=false",
            "-no-color",
            `-backend-config=${prepared[stack].backendConfig}`,
          ]);
          expectSuccess("init", init);
          const apply = timed(() =>
            runTerraform(tools, work(stack), ["apply", "-auto-approve", "-input=false", "-no-color"]),
          );
          expectSuccess("apply", apply.result);
          const applied = appliedResources(tools, work(stack));
          // Every resource of the copy that was applied: the synthesized stack less what the emulator cannot hold.
          const copy = resourceAddresses(JSON.parse(fs.readFileSync(path.join(work(stack), "main.tf.json"), "utf8")));
          expect(applied).toBe(copy.length);
          // The state is in the bucket the bootstrap created, and the lock was released.
          const { s3 } = clients();
          const key = `order-system/${config.name}/terraform.tfstate`;
          // SSE-KMS under the state key (the backend's kms_key_id), not the SSE-S3 that `encrypt` alone asks for.
          await expect(s3.send(new HeadObjectCommand({ Bucket: config.stateBucket, Key: key }))).resolves.toMatchObject(
            {
              ContentLength: expect.any(Number),
              ServerSideEncryption: "aws:kms",
              SSEKMSKeyId: expect.stringMatching(new RegExp(`${names.stateKeyAlias}$|:key/`)),
            },
          );
          await expect(
            s3.send(new HeadObjectCommand({ Bucket: config.stateBucket, Key: `${key}.tflock` })),
          ).rejects.toMatchObject({ name: "NotFound" });
          recordApplied(stack, applied, apply.seconds);
        },
        STEP_TIMEOUT_MS,
      );

      test(
        "3. a plan right after apply reports no changes for both stacks",
        async () => {
          // Side by side: the two plans only read.
          const stacks = [names.stateStack, names.stack];
          const plans = await Promise.all(
            stacks.map(async (stack) => {
              const started = performance.now();
              const args = ["plan", "-detailed-exitcode", "-input=false", "-no-color"];
              const result = await runTerraformAsync(tools, work(stack), args);
              return { result, seconds: Number(((performance.now() - started) / 1000).toFixed(1)) };
            }),
          );
          stacks.forEach((stack, i) => {
            const plan = plans[i];
            // -detailed-exitcode: 0 = no changes, 2 = changes (the diff is in stdout), 1 = error.
            expect({
              stack,
              status: plan.result.status,
              diff: plan.result.status === 0 ? "" : plan.result.stdout + plan.result.stderr,
            }).toEqual({ stack, status: 0, diff: "" });
            record.stacks[stack].seconds.plan = plan.seconds;
          });
        },
        STEP_TIMEOUT_MS,
      );

      test(
        "4. the operator's commands run against the applied stack: publish, dlq list, delivery-dlq move",
        async () => {
          const outputs = appliedOutputs();
          const orders = path.join(work(names.stack), "orders.jsonl");
          fs.writeFileSync(orders, `${JSON.stringify(SAMPLE_ORDER)}\n`);
          const publish = operate("publish", orders);
          expect({ status: publish.status, stdout: publish.stdout, stderr: publish.stderr }).toEqual({
            status: 0,
            stdout: `published 1 of 1 orders to ${outputs.topic_arn}\n`,
            stderr: "",
          });
          // SNS delivered it to OrderQueue through the subscription, raw: the body is the order itself.
          const { sqs } = clients();
          const received = await sqs.send(
            new ReceiveMessageCommand({ QueueUrl: outputs.queue_url, MaxNumberOfMessages: 10, WaitTimeSeconds: 2 }),
          );
          expect((received.Messages ?? []).map((m) => JSON.parse(m.Body!))).toEqual([SAMPLE_ORDER]);
          const list = operate("dlq", "list");
          expect({ status: list.status, stdout: list.stdout, stderr: list.stderr }).toEqual({
            status: 0,
            stdout: "the DLQ is empty\n",
            stderr: "",
          });
          // What SNS could not deliver goes back to OrderQueue with the delivery-DLQ command.
          const stranded = [1, 2, 3].map((n) => JSON.stringify({ ...SAMPLE_ORDER, orderId: `STRANDED${n}` }));
          for (const body of stranded)
            await sqs.send(new SendMessageCommand({ QueueUrl: outputs.delivery_dlq_url, MessageBody: body }));
          const move = operate("delivery-dlq", "move");
          expect({ status: move.status, stdout: move.stdout, stderr: move.stderr }).toEqual({
            status: 0,
            stdout: `moved 3 messages from ${outputs.delivery_dlq_url} to ${outputs.queue_url}\n`,
            stderr: "",
          });
          // SQS returns a sample of the visible messages per receive: receive until all three are seen.
          const requeued: string[] = [];
          for (let attempt = 0; attempt < 10 && requeued.length < stranded.length; attempt++) {
            const batch = await sqs.send(
              new ReceiveMessageCommand({ QueueUrl: outputs.queue_url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
            );
            requeued.push(...(batch.Messages ?? []).map((m) => m.Body!));
          }
          expect(requeued.sort()).toEqual(stranded);
          const left = await sqs.send(
            new ReceiveMessageCommand({
              QueueUrl: outputs.delivery_dlq_url,
              MaxNumberOfMessages: 10,
              WaitTimeSeconds: 1,
            }),
          );
          expect(left.Messages ?? []).toEqual([]);
          // What this step received stays in flight; the next step starts from an empty OrderQueue.
          await sqs.send(new PurgeQueueCommand({ QueueUrl: outputs.queue_url }));
        },
        STEP_TIMEOUT_MS,
      );

      test(
        "5. the applied stack processes orders: updates, duplicates and poison, shuffled; newest state stored, poison in the DLQ after maxReceiveCount receives",
        async () => {
          const outputs = appliedOutputs();
          const workload = scenarioWorkload();
          const file = path.join(work(names.stack), "scenario.jsonl");
          fs.writeFileSync(file, `${workload.bodies.join("\n")}\n`);
          const lambda = await lambdaOnMoto();
          const started = performance.now();
          const { sqs, dynamodb } = clients();
          expect(lambda.functionName).toBe(names.function);
          const publish = operate("publish", file);
          expect({ status: publish.status, stderr: publish.stderr }).toEqual({ status: 0, stderr: "" });
          expect(publish.stdout).toContain(`published ${workload.bodies.length} of ${workload.bodies.length} orders`);
          const end = await awaitScenario(
            { sqs, dynamodb },
            { table: outputs.table_name, dlqUrl: outputs.dlq_url },
            workload,
            // A receive whose answer is lost (a slow moto on a busy machine) hides its message for the
            // whole visibility timeout, 180 s as applied, as SQS does: the wait covers one such loss.
            420_000,
          );
          const seconds = Number(((performance.now() - started) / 1000).toFixed(1));
          const { Attributes = {} } = await sqs.send(
            new GetQueueAttributesCommand({ QueueUrl: outputs.queue_url, AttributeNames: ["RedrivePolicy"] }),
          );
          const maxReceiveCount = Number(JSON.parse(Attributes.RedrivePolicy!).maxReceiveCount);
          const receives = receiveFigures(lambda.events);
          const figures: ScenarioFigures = {
            published: workload.bodies.length,
            orders: workload.newest.size,
            updates: workload.updates,
            duplicatesPublished: workload.duplicates,
            poison: workload.poison,
            storedNewest: newestStored(workload, end.items),
            deadLettered: end.deadLettered,
            ...receives,
            seconds,
          };
          record.scenario = figures;
          // What happened to each order not in its newest state, from the service's trace.
          expect({ stored: figures.storedNewest, missing: notNewest(workload, end.items, lambda.events) }).toEqual({
            stored: workload.newest.size,
            missing: [],
          });
          expect(end.items.size).toBe(workload.newest.size);
          expect(figures.deadLettered).toBe(workload.poison);
          expect(figures.poisonReceives).toEqual(Array(workload.poison).fill(maxReceiveCount));
          const list = operate("dlq", "list");
          expect({ status: list.status, stderr: list.stderr }).toEqual({ status: 0, stderr: "" });
          const listed = list.stdout.trim().split("\n");
          expect(listed).toHaveLength(workload.poison);
          for (const line of listed) expect(line).toMatch(/^\S+ {2}receives=\d+ {2}sent=\S+ {2}.*POISON-\d+/);
          // Step 6 starts from empty queues and an empty table, as after a deploy.
          await sqs.send(new PurgeQueueCommand({ QueueUrl: outputs.dlq_url }));
          for (const orderId of end.items.keys())
            await dynamodb.send(
              new DeleteItemCommand({ TableName: outputs.table_name, Key: { orderId: { S: orderId } } }),
            );
        },
        STEP_TIMEOUT_MS,
      );

      // One environment drives the console in a browser (Chromium beside three proofs would crowd two cores).
      if (environment === "dev")
        test(
          "5b. the console on the applied stack: a journey from the function's log, a dead letter's cause, a redrive followed",
          async () => {
            const figures = await consoleOnMoto({
              outputs: appliedOutputs(),
              stack: names.stack,
              motoEndpoint: moto.endpoint,
              region: config.region,
              lambda: await lambdaOnMoto(),
            });
            record.console = figures;
            console.log(
              `console on moto: journey after ${figures.journeyMs} ms, the cause after ${figures.causeMs} ms`,
            );
          },
          STEP_TIMEOUT_MS,
        );

      test(
        "6. verify: each check passes on the applied stack and fails on what breaks it",
        () =>
          verifyPassesThenFailsOnMoto({
            outputs: appliedOutputs(),
            motoEndpoint: moto.endpoint,
            config,
            startLambda: lambdaOnMoto,
            stopLambda: stopLambdaOnMoto,
          }),
        STEP_TIMEOUT_MS,
      );

      test(
        "7. destroy: refused where the README says, then lifted its way",
        async () => {
          const { s3, dynamodb } = clients();
          const destroy = (stack: string) =>
            timed(() => runTerraform(tools, work(stack), ["destroy", "-auto-approve", "-input=false", "-no-color"]));
          let pipeline = destroy(names.stack);
          if (config.production) {
            // The prod table's deletion protection refuses; the README's way: turn it off, then destroy.
            expect(pipeline.result.status).toBe(1);
            expect(pipeline.result.stderr).toMatch(
              /DeleteTable[\s\S]*(deletion protection|DeletionProtectionEnabled)/i,
            );
            await dynamodb.send(new UpdateTableCommand({ TableName: names.table, DeletionProtectionEnabled: false }));
            pipeline = destroy(names.stack);
          }
          expectSuccess("destroy pipeline", pipeline.result);
          record.stacks[names.stack].seconds.destroy = pipeline.seconds;

          // The state bucket has prevent_destroy: Terraform refuses before changing anything.
          const refused = destroy(names.stateStack);
          expect(refused.result.status).toBe(1);
          expect(refused.result.stderr).toMatch(/Instance cannot be destroyed[\s\S]*prevent_destroy/);
          // The README's way: remove prevent_destroy by hand, empty the (versioned) bucket, destroy.
          const mainFile = path.join(work(names.stateStack), "main.tf.json");
          const doc = JSON.parse(fs.readFileSync(mainFile, "utf8"));
          for (const bucket of Object.values<{ lifecycle?: { prevent_destroy?: boolean } }>(doc.resource.aws_s3_bucket))
            delete bucket.lifecycle?.prevent_destroy;
          fs.writeFileSync(mainFile, JSON.stringify(doc, null, 2));
          const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: config.stateBucket }));
          const objects = [...(versions.Versions ?? []), ...(versions.DeleteMarkers ?? [])].map((v) => ({
            Key: v.Key!,
            VersionId: v.VersionId,
          }));
          if (objects.length > 0)
            await s3.send(new DeleteObjectsCommand({ Bucket: config.stateBucket, Delete: { Objects: objects } }));
          const bootstrap = destroy(names.stateStack);
          expectSuccess("destroy bootstrap", bootstrap.result);
          record.stacks[names.stateStack].seconds.destroy = bootstrap.seconds;
          expect(appliedResources(tools, work(names.stateStack))).toBe(0);
        },
        STEP_TIMEOUT_MS,
      );
    });
  });
}
