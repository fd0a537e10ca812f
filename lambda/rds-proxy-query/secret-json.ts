/**
 * A secret's value as an object: a string is parsed as JSON. A string that is not JSON gives `undefined`
 * (the caller reports "not a JSON object") — never JSON.parse's message, which quotes the start of its input,
 * i.e. of the password. Its own module so the bootstrap (master secret) does not bundle the IAM signer.
 */
export function parseSecretJson(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}
