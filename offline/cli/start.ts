/** `npm start -- [options]`: the command line of the offline runtime (`command.ts`); its last line is the summary JSON. */
import { runMain } from "../../common/run-main";
import { main } from "./command";

runMain(module, () => main(process.argv.slice(2)), {
  hint: "Run `npm start -- --help` for the options.",
});
