/**
 * `npm run krb5-conf -- [options]`: writes krb5.conf for non-joined Linux clients and prints the SQL,
 * the connect command and the on-premises PowerShell. Values come from the stacks' outputs file
 * (`npx cdk deploy DbOpsAdTrustPrimary DbOpsAdTrustReplica --outputs-file outputs.json`) and/or flags;
 * flags win. Exit code 2 with usage on bad arguments.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'node:util';
import { connectCommand, Engine, loginSql, onPremPowerShell, renderKrb5Conf } from './krb5-conf';

export const USAGE = `usage: npm run krb5-conf -- [--outputs outputs.json] [options]

  --outputs FILE        cdk deploy --outputs-file JSON of DbOpsAdTrustPrimary / DbOpsAdTrustReplica
  --onprem-domain FQDN  on-premises forest root (default realm), e.g. onprem.example.com
  --onprem-kdc HOST[:PORT]   on-premises KDC (repeatable; default: the OnPremDnsIps output)
  --aws-domain FQDN     AWS Managed Microsoft AD domain (default: DirectoryDomainName output)
  --aws-kdc HOST[:PORT] AWS KDC (repeatable; default: DirectoryDnsIps + ReplicaDnsIps outputs)
  --db-endpoint HOST    Aurora endpoint to map to the AWS realm (repeatable; default: cluster endpoints in the outputs)
  --engine E            aurora-postgresql | aurora-mysql (default: DatabaseEngine output)
  --user NAME           on-premises user for the SQL and connect command (default: alice)
  --database NAME       database for the connect command
  --port N              database port (default: DatabasePort output, else 5432/3306)
  --sslmode MODE        libpq sslmode / mysql --ssl-mode (default: verify-full / VERIFY_IDENTITY)
  --no-map-all-rds      do not map every *.rds.amazonaws.com host, only the listed endpoints
  --out FILE            write krb5.conf to FILE (default: out/krb5-conf/krb5.conf; "-" prints it)
  --what LIST           comma list of conf,sql,connect,powershell (default: all)
  -h, --help`;

class UsageError extends Error {}

/** Where krb5.conf goes unless --out says otherwise (under out/<cli-name>/ of the current directory; out/ is gitignored). */
export const DEFAULT_CONF = path.join('out', 'krb5-conf', 'krb5.conf');

type Outputs = Record<string, Record<string, string>>;

function findOutput(outputs: Outputs, key: string): string | undefined {
  for (const stack of Object.keys(outputs).sort()) {
    const v = outputs[stack]?.[key];
    if (typeof v === 'string' && v !== '') return v;
  }
  return undefined;
}

function list(v: string | undefined): string[] {
  return (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

export interface CliResult {
  readonly stdout: string;
  readonly files: Record<string, string>;
}

/** Runs the CLI on argv (without node/script) and returns what it prints and writes; throws UsageError on bad input. */
export function runCli(argv: string[]): CliResult {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        outputs: { type: 'string' },
        'onprem-domain': { type: 'string' },
        'onprem-kdc': { type: 'string', multiple: true },
        'aws-domain': { type: 'string' },
        'aws-kdc': { type: 'string', multiple: true },
        'db-endpoint': { type: 'string', multiple: true },
        engine: { type: 'string' },
        user: { type: 'string', default: 'alice' },
        database: { type: 'string' },
        port: { type: 'string' },
        sslmode: { type: 'string' },
        'no-map-all-rds': { type: 'boolean', default: false },
        out: { type: 'string' },
        what: { type: 'string', default: 'conf,sql,connect,powershell' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const v = parsed.values;
  if (v.help) return { stdout: USAGE, files: {} };
  let outputs: Outputs = {};
  if (v.outputs) {
    try {
      outputs = JSON.parse(fs.readFileSync(v.outputs, 'utf8')) as Outputs;
    } catch (e) {
      throw new UsageError(`cannot read outputs file ${v.outputs}: ${(e as Error).message}`);
    }
  }
  const engine = (v.engine ?? findOutput(outputs, 'DatabaseEngine') ?? 'aurora-postgresql') as Engine;
  if (engine !== 'aurora-postgresql' && engine !== 'aurora-mysql') throw new UsageError(`--engine must be aurora-postgresql or aurora-mysql, got "${engine}"`);
  const what = list(v.what);
  const unknown = what.filter((w) => !['conf', 'sql', 'connect', 'powershell'].includes(w));
  if (unknown.length > 0 || what.length === 0) throw new UsageError(`--what takes conf,sql,connect,powershell; got "${v.what}"`);
  const onPremDomain = v['onprem-domain'] ?? findOutput(outputs, 'OnPremDomainName') ?? '';
  const awsDomain = v['aws-domain'] ?? findOutput(outputs, 'DirectoryDomainName') ?? '';
  const awsDnsIps = [...list(findOutput(outputs, 'DirectoryDnsIps')), ...list(findOutput(outputs, 'ReplicaDnsIps'))];
  const awsKdcs = v['aws-kdc'] ?? awsDnsIps;
  const onPremKdcs = v['onprem-kdc'] ?? list(findOutput(outputs, 'OnPremDnsIps'));
  const dbEndpoints =
    v['db-endpoint'] ??
    ['PrimaryClusterEndpoint', 'PrimaryReaderEndpoint', 'SecondaryClusterEndpoint', 'SecondaryReaderEndpoint']
      .map((k) => findOutput(outputs, k))
      .filter((x): x is string => !!x);
  const portRaw = v.port ?? findOutput(outputs, 'DatabasePort');
  const port = portRaw === undefined ? undefined : Number(portRaw);
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) throw new UsageError(`--port must be 1..65535, got "${portRaw}"`);

  const missing: string[] = [];
  if (!onPremDomain) missing.push('--onprem-domain (or OnPremDomainName in --outputs)');
  if (!awsDomain) missing.push('--aws-domain (or DirectoryDomainName in --outputs)');
  if ((what.includes('conf') || what.includes('connect')) && dbEndpoints.length === 0) missing.push('--db-endpoint (or PrimaryClusterEndpoint in --outputs)');
  if (missing.length > 0) throw new UsageError(`missing: ${missing.join(', ')}`);

  const files: Record<string, string> = {};
  const parts: string[] = [];
  const confPath = v.out ?? DEFAULT_CONF;
  let conf: string | undefined;
  if (what.includes('conf')) {
    try {
      conf = renderKrb5Conf({ onPremDomain, onPremKdcs, awsDomain, awsKdcs, dbEndpoints, mapAllRdsEndpoints: !v['no-map-all-rds'] });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    if (confPath === '-') parts.push(`# ---- krb5.conf ----\n${conf}`);
    else files[confPath] = conf;
  }
  try {
    if (what.includes('sql')) parts.push(`-- ---- SQL (run as the master user on the primary cluster) ----\n${loginSql(engine, v.user!, onPremDomain)}`);
    if (what.includes('connect')) {
      parts.push(
        `# ---- connect ----\n${connectCommand({ engine, user: v.user!, onPremDomain, endpoint: dbEndpoints[0], port, database: v.database, sslmode: v.sslmode, krb5ConfPath: confPath === '-' ? undefined : confPath })}`,
      );
    }
    if (what.includes('powershell')) {
      parts.push(`# ---- on-premises PowerShell ----\n${onPremPowerShell({ awsDomain, awsDnsIps: awsKdcs.map((k) => k.split(':')[0]), trustPasswordSecretArn: findOutput(outputs, 'TrustPasswordSecretArn') })}`);
    }
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return { stdout: parts.join('\n\n'), files };
}

export function main(argv: string[]): number {
  try {
    const r = runCli(argv);
    for (const [f, content] of Object.entries(r.files)) {
      fs.mkdirSync(path.dirname(f), { recursive: true });
      fs.writeFileSync(f, content);
      process.stderr.write(`wrote ${f}\n`);
    }
    if (r.stdout) process.stdout.write(`${r.stdout}\n`);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`error: ${e.message}\n\n${USAGE}\n`);
      return 2;
    }
    process.stderr.write(`error: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2));
}
