/**
 * Runs before every test file (jest `setupFiles`). This machine runs Node 20 while the Lambdas target
 * nodejs22.x: silence the AWS SDK's Node-version notice so it does not bury test output. Structured
 * logs from the code under test stay off unless a test turns them on.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
