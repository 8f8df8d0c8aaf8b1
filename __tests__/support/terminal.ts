import type { ProgressStream } from "../../common/progress";

/** A stand-in for stderr: a terminal (isTTY) or a pipe, recording what is written. */
export function fakeTerminal(isTTY = true): ProgressStream & { text(): string } {
  const chunks: string[] = [];
  return {
    isTTY,
    write(text: string) {
      chunks.push(text);
      return true;
    },
    text: () => chunks.join(""),
  };
}
