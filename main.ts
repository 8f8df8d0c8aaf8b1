import { App } from "cdktf";
import { OrderSystemStack, resolveEnvironment, settingsFrom, StateStack } from "./constructs";

const app = new App();
// ORDER_ENV (or the `environment` context) picks the environment; see the README's "Configuration".
const config = resolveEnvironment(settingsFrom(process.env, (key) => app.node.tryGetContext(key)));
new StateStack(app, { config });
new OrderSystemStack(app, { config });
app.synth();
