/**
 * Preloaded (`tsx --import ./bin/cli-env.ts …`) by the kit's own CLI entry points in package.json, before any
 * AWS SDK client exists. On Node 20 every SDK v3 client construction prints a 7-line NodeVersionSupportWarning
 * ("versions published after the first week of January 2027 will require node >=22"). The kit pins its SDK
 * versions, so the notice does not apply to what the CLIs run; it only buries their output. The SDK team
 * documents this environment variable as the way to suppress it:
 * https://github.com/aws/aws-sdk-js-v3/issues/7983 (announcement: "If you cannot upgrade, you can suppress it by
 * setting … AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true"); policy:
 * https://aws.amazon.com/blogs/developer/aws-sdk-for-javascript-aligns-with-node-js-release-schedule/
 * A value the user set (e.g. `false` to see the notice) is kept. Library code and the Lambdas are not affected.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
