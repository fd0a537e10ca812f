import { Logger } from '@aws-lambda-powertools/logger';

/**
 * Structured JSON logger (AWS Lambda Powertools) for one pattern. Log level comes from
 * `POWERTOOLS_LOG_LEVEL` (default INFO); CLIs and tests set `POWERTOOLS_LOG_LEVEL=SILENT` or WARN.
 */
export function createLogger(serviceName: string): Logger {
  return new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? serviceName });
}
