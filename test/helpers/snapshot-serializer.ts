/**
 * Jest snapshot serializer: replaces what changes with every code edit or account — asset hashes,
 * bootstrap qualifiers and bucket names — with stable placeholders, so a snapshot diff shows only
 * real template changes.
 */
const HASH = /[a-f0-9]{64}/g;
const QUALIFIER = /cdk-hnb659fds/g;

function normalize(s: string): string {
  return s.replace(HASH, '[ASSET-HASH]').replace(QUALIFIER, 'cdk-[QUALIFIER]');
}

const serializer = {
  test(val: unknown): boolean {
    return typeof val === 'string' && (normalize(val) !== val);
  },
  serialize(val: string): string {
    return JSON.stringify(normalize(val));
  },
};

export = serializer;
