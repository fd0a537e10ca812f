/**
 * The backfill's state stays bounded at any number of objects.
 *
 * Step Functions fails an execution whose state input or output, or a state's raw result, passes
 * 256 KiB (States.DataLimitExceeded, https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html).
 * A Distributed Map without a ResultWriter returns one array with every child's result, and that
 * array counts against the quota even when ResultSelector/ResultPath discard it; with a ResultWriter
 * the child results go to S3 and the map returns only the map run ARN and the manifest location
 * (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html).
 *
 * No local emulator runs a Distributed Map with an S3 ItemReader (aws-local-stepfunctions 3.0.0 has
 * no ItemReader; moto's Step Functions does not run Map states), so this test evaluates the
 * synthesized ASL with the payload rules above: it walks the top-level states from StartAt, builds
 * each Map's raw result (N child results of the real loader result shape, or the ResultWriter
 * summary), applies ResultSelector, ResultPath and OutputPath as Step Functions does, and measures
 * every payload. It fails on a definition without ResultWriter (shown below on purpose).
 */
import { Stack } from 'aws-cdk-lib';
import { testApp } from '../helpers/app';
import { Template } from 'aws-cdk-lib/assertions';
import type { LoadResult } from '../../lambda/dsql-loader/loader';
import { DsqlBridgeStack } from '../../lib/dsql-bridge';

const QUOTA = 256 * 1024;
const BUCKET = 'dbopsdsqlbridge-dsqlbridgelanding9f8c2281-abcdefghijkl'.padEnd(63, 'x');
const ENV = { account: '123456789012', region: 'us-east-1' };

/** What the loader returns for one object (payloadResponseOnly: the child's output), at realistic sizes. */
function childResult(i: number): LoadResult {
  const table = `t${'x'.repeat(62)}`; // a 63-byte PostgreSQL identifier
  return {
    status: 'loaded',
    objectKey: `dms/public/${table}/20261130-${String(120000000 + i).padStart(15, '0')}.csv`,
    etag: 'd41d8cd98f00b204e9800998ecf8427e',
    table: `public.${table}`,
    records: 2_000_000,
    rowsApplied: 1_999_999,
    rowsRejected: 1,
    transactions: 667,
    retries: 3,
    resumedFrom: 0,
    quarantineKeys: [],
  };
}

interface Violation {
  state: string;
  what: 'raw result' | 'input' | 'output';
  bytes: number;
}

function definitionOf(stack: Stack): any {
  const sm = Object.values(Template.fromStack(stack).findResources('AWS::StepFunctions::StateMachine'))[0] as any;
  const parts: unknown[] = sm.Properties.DefinitionString['Fn::Join'][1];
  const text = parts
    .map((p) => {
      if (typeof p === 'string') return p;
      const s = JSON.stringify(p);
      if (s.includes('Landing')) return BUCKET;
      if (s.includes('Loader')) return 'arn:aws:lambda:us-east-1:123456789012:function:DbOpsDsqlBridge-DsqlBridgeLoaderE9A77EDE-AbCdEfGhIjKl';
      if (s.includes('Partition')) return 'aws';
      throw new Error(`unexpected intrinsic in the definition: ${s}`);
    })
    .join('');
  return JSON.parse(text);
}

function getPath(doc: unknown, path: string): unknown {
  if (path === '$') return doc;
  if (!path.startsWith('$.')) throw new Error(`path not supported by this model: ${path}`);
  let v: any = doc;
  for (const part of path.slice(2).split('.')) {
    if (v === null || typeof v !== 'object' || !(part in v)) throw new Error(`States.Runtime: ${path} not found`);
    v = v[part];
  }
  return v;
}

function setPath(doc: unknown, path: string, value: unknown): unknown {
  if (path === '$') return value;
  const parts = path.slice(2).split('.');
  const out = structuredClone(doc) as any;
  let v = out;
  for (const p of parts.slice(0, -1)) v = v[p] ??= {};
  v[parts[parts.length - 1]] = value;
  return out;
}

function applySelector(selector: Record<string, unknown>, result: unknown): unknown {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(selector)) {
    if (k.endsWith('.$')) out[k.slice(0, -2)] = getPath(result, v as string);
    else out[k] = v;
  }
  return out;
}

const size = (v: unknown) => Buffer.byteLength(JSON.stringify(v));

/**
 * Runs the top-level states of `asl` with `objects` objects under the landing prefix and returns
 * every payload over the quota (the execution stops at the first, as Step Functions does).
 */
function payloadViolations(asl: any, objects: number): { violations: Violation[]; largest: number; output?: unknown } {
  const violations: Violation[] = [];
  let largest = 0;
  const check = (state: string, what: Violation['what'], bytes: number) => {
    largest = Math.max(largest, bytes);
    if (bytes > QUOTA) violations.push({ state, what, bytes });
    return bytes <= QUOTA;
  };
  let input: unknown = {}; // the README starts the backfill with {}
  let name: string | undefined = asl.StartAt;
  while (name) {
    const st = asl.States[name];
    if (!check(name, 'input', size(input))) break;
    if (st.Type !== 'Map' || st.ItemProcessor?.ProcessorConfig?.Mode !== 'DISTRIBUTED') throw new Error(`${name}: only Distributed Map states are modelled, got ${st.Type}`);
    let raw: unknown;
    if (st.ResultWriter) {
      // The documented output of a Map state with a ResultWriter.
      raw = {
        MapRunArn: `arn:aws:states:us-east-1:123456789012:mapRun:DsqlBridgeBackfill765C7BAA-AbCdEfGhIjKl/${st.Label}:1f2e3d4c-5b6a-7980-a1b2-c3d4e5f60718`,
        ResultWriterDetails: { Bucket: st.ResultWriter.Parameters.Bucket, Key: `${st.ResultWriter.Parameters.Prefix}/1f2e3d4c-5b6a-7980-a1b2-c3d4e5f60718/manifest.json` },
      };
      if (!check(name, 'raw result', size(raw))) break;
    } else {
      // Every child's result in one array: measured without building a 100,000-element array.
      let bytes = 2;
      for (let i = 0; i < objects; i += 1) bytes += size(childResult(i)) + (i > 0 ? 1 : 0);
      if (!check(name, 'raw result', bytes)) break; // counts even when ResultPath is null
      raw = Array.from({ length: objects }, (_, i) => childResult(i));
    }
    const selected = st.ResultSelector ? applySelector(st.ResultSelector, raw) : raw;
    const withResult = st.ResultPath === null ? input : setPath(input, st.ResultPath ?? '$', selected);
    const output = st.OutputPath === undefined ? withResult : getPath(withResult, st.OutputPath);
    if (!check(name, 'output', size(output))) break;
    input = output;
    name = st.End ? undefined : st.Next;
    if (!name) return { violations, largest, output };
  }
  return { violations, largest };
}

function synth(context: Record<string, unknown> = {}): Stack {
  return new DsqlBridgeStack(testApp({ context }), 'DbOpsDsqlBridge', { env: ENV });
}

describe('backfill state size (256 KiB payload quota)', () => {
  const asl = definitionOf(synth());

  test('both Distributed Maps write their results to S3 under the results prefix (ResultWriter), outside the landing prefix', () => {
    for (const [state, pass] of [['BackfillFullLoadFiles', 'full-load-pass'], ['BackfillEveryObject', 'every-object-pass']]) {
      expect(asl.States[state].ResultWriter).toEqual({
        Resource: 'arn:aws:states:::s3:putObject',
        Parameters: { Bucket: BUCKET, Prefix: `backfill-results/${pass}` },
      });
      expect(asl.States[state].ItemReader.Parameters.Prefix).toBe('dms/');
    }
  });

  test('100,000 objects: every state input, raw result and output stays under 256 KiB; the execution output is the two summaries', () => {
    const r = payloadViolations(asl, 100_000);
    expect(r.violations).toEqual([]);
    expect(r.largest).toBeLessThan(2048);
    expect(r.output).toEqual({
      fullLoadPass: { mapRunArn: expect.stringContaining('/BackfillFullLoad:'), resultWriterDetails: { Bucket: BUCKET, Key: expect.stringMatching(/^backfill-results\/full-load-pass\/.+\/manifest\.json$/) } },
      everyObjectPass: { mapRunArn: expect.stringContaining('/Backfill:'), resultWriterDetails: { Bucket: BUCKET, Key: expect.stringMatching(/^backfill-results\/every-object-pass\/.+\/manifest\.json$/) } },
    });
  });

  test('the same with the CDK feature flag that renders ResultWriter V2', () => {
    const v2 = definitionOf(synth({ '@aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2': true }));
    expect(v2.States.BackfillEveryObject.ResultWriter.Parameters).toEqual({ Bucket: BUCKET, Prefix: 'backfill-results/every-object-pass' });
    expect(payloadViolations(v2, 100_000).violations).toEqual([]);
  });

  test('the model catches the failure: without ResultWriter (even with ResultPath null) the first map fails below 1,000 objects', () => {
    const broken = structuredClone(asl);
    for (const st of Object.values<any>(broken.States)) {
      delete st.ResultWriter;
      delete st.ResultSelector;
      st.ResultPath = null;
    }
    expect(payloadViolations(broken, 100).violations).toEqual([]);
    const r = payloadViolations(broken, 100_000);
    expect(r.violations).toEqual([{ state: 'BackfillFullLoadFiles', what: 'raw result', bytes: expect.any(Number) }]);
    expect(r.violations[0].bytes).toBeGreaterThan(30 * 1024 * 1024);
    let n = 100;
    while (payloadViolations(broken, n).violations.length === 0) n += 50;
    expect(n).toBeGreaterThan(500);
    expect(n).toBeLessThanOrEqual(1000); // the issue saw the failure past roughly 900 objects
  });
});
