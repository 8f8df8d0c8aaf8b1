const cdktf = require("cdktf");
cdktf.Testing.setupJest();
// The Lambda runtime is Node.js 22; the SDK's notice about this machine's older Node is noise in tests.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
