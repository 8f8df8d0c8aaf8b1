/** `npm run build`: bundles `lambda/` into `dist/order-processor/index.js`, the same bundle the stack deploys. */
import * as path from "node:path";
import { bundleHandler, ORDER_PROCESSOR } from "../constructs/function-bundle";
import { runMain } from "../common/run-main";

runMain(module, () => {
  console.log(
    `order processor bundle: ${path.relative(process.cwd(), bundleHandler(ORDER_PROCESSOR.entry, ORDER_PROCESSOR.outdir))}`,
  );
  return 0;
});
