/** createLogger (lambda/shared/logger.ts): the service name every pattern's structured logs carry. */
import { createLogger } from '../../lambda/shared/logger';

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
  jest.restoreAllMocks();
});

/** Writes one INFO line through a fresh logger and returns the parsed JSON line. */
function logOnce(serviceName: string): Record<string, unknown> {
  process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
  delete process.env.POWERTOOLS_DEV;
  const lines: string[] = [];
  jest.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stdout.write);
  createLogger(serviceName).info('hello');
  jest.restoreAllMocks();
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]) as Record<string, unknown>;
}

test('the pattern\'s service name is used when POWERTOOLS_SERVICE_NAME is not set', () => {
  delete process.env.POWERTOOLS_SERVICE_NAME;
  expect(logOnce('kms-key-change')).toMatchObject({ service: 'kms-key-change', message: 'hello', level: 'INFO' });
});

test('POWERTOOLS_SERVICE_NAME (set by the construct) overrides the pattern\'s default', () => {
  process.env.POWERTOOLS_SERVICE_NAME = 'prod-rekey';
  expect(logOnce('kms-key-change')).toMatchObject({ service: 'prod-rekey' });
});

test('the log level comes from POWERTOOLS_LOG_LEVEL', () => {
  process.env.POWERTOOLS_LOG_LEVEL = 'WARN';
  expect(createLogger('x').getLevelName()).toBe('WARN');
});
