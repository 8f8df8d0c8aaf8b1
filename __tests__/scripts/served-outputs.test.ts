/**
 * The benches and soaks read a `--serve`'s outputs from its ready line. `outputs` there is relative to the
 * folder the server was started in when its run folder is inside it, absolute when the run folder is
 * elsewhere (as `bench:serve`'s are): joining an absolute path onto the project broke `npm run bench:serve`.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { servedOutputs } from "../../scripts/runtime-child";

test("a run folder inside the project (relative) and one outside it (absolute) both read", () => {
  const project = fs.mkdtempSync(path.join(os.tmpdir(), "order-project-"));
  const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), "order-run-"));
  try {
    const outputs = { OrderSystemStack: { topic_arn: "arn:aws:sns:us-east-1:000000000000:OrderTopic" } };
    fs.mkdirSync(path.join(project, "cdktf.out", "local"), { recursive: true });
    fs.writeFileSync(path.join(project, "cdktf.out", "local", "outputs.json"), JSON.stringify(outputs));
    fs.writeFileSync(path.join(elsewhere, "outputs.json"), JSON.stringify(outputs));
    expect(servedOutputs({ outputs: "cdktf.out/local/outputs.json" }, project).topic_arn).toMatch(/OrderTopic$/);
    expect(servedOutputs({ outputs: path.join(elsewhere, "outputs.json") }, project).topic_arn).toMatch(/OrderTopic$/);
  } finally {
    fs.rmSync(project, { recursive: true, force: true });
    fs.rmSync(elsewhere, { recursive: true, force: true });
  }
});
