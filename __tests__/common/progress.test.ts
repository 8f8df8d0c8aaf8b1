import { progress, progressLine } from "../../common/progress";
import { fakeTerminal } from "../support/terminal";

describe("the progress line of long runs", () => {
  test("says how far, how fast and how long is left", () => {
    expect(progressLine("soak", 250, 1000, 5000, "2 dead-lettered")).toBe(
      "soak: 250/1000 (25%), 50/s, ETA 15 s, 2 dead-lettered",
    );
    expect(progressLine("bench", 3, 10, 60_000)).toBe("bench: 3/10 (30%), 0.1/s, ETA 2 min 20 s");
    expect(progressLine("dlq redrive", 0, undefined, 1000)).toBe("dlq redrive: 0");
  });

  test("draws on a terminal at most every interval, always the last step, and clears itself", () => {
    let clock = 0;
    const terminal = fakeTerminal();
    const bar = progress("run", { stream: terminal, now: () => clock, intervalMs: 100 });
    bar.update(1, 3);
    clock = 50;
    bar.update(2, 3); // too soon: skipped
    clock = 60;
    bar.update(3, 3); // the end is always drawn
    bar.clear();
    const draws = terminal.text().split("\r\u001b[2K").filter(Boolean);
    expect(draws).toEqual(["run: 1/3 (33%)", "run: 3/3 (100%), 50/s"]);
    expect(terminal.text().endsWith("\r\u001b[2K")).toBe(true);
  });

  test("writes nothing when the stream is not a terminal (CI, a pipe)", () => {
    const pipe = fakeTerminal(false);
    const bar = progress("run", { stream: pipe });
    bar.update(1, 2);
    bar.clear();
    expect(bar.enabled).toBe(false);
    expect(pipe.text()).toBe("");
  });
});
