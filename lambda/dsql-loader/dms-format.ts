/**
 * The DMS S3 CSV format that the DMS target endpoint writes and the loader reads. The construct
 * (lib/dsql-bridge) builds the endpoint's S3 settings from these constants and passes the same
 * values to the loader Lambda as environment variables, so the two cannot drift apart.
 *
 * Why each setting (see lib/dsql-bridge/README.md):
 * - `AddColumnName` — a header row in every file: the loader maps columns by name, so the position
 *   of the `Op` and timestamp columns and the source column order do not matter.
 * - `IncludeOpForFullLoad` — full-load files carry `Op` = `I` like CDC files, so one parser handles both.
 * - `TimestampColumnName` — the source commit time of each change, used for the lag metric.
 * - `CsvNullValue` — DMS writes SQL NULL as this exact, unquoted token; an empty string stays an
 *   empty field. Without it DMS writes NULL as an empty field and NULL and '' cannot be told apart.
 * - `Rfc4180` — values with the delimiter, quotes or line breaks are quoted with doubled quotes.
 * - `DatePartitionEnabled` false — keys stay `<folder>/<schema>/<table>/<file>`, so the file names
 *   (LOAD00000001.csv, then yyyyMMdd-HHmmssSSS.csv for CDC) sort in DMS order within a table.
 * - `MaxFileSize` — bounded full-load files so one file loads well inside one Lambda invocation.
 */
export const DMS_CSV = {
  delimiter: ',',
  rowDelimiter: '\n',
  /** The unquoted token DMS writes for SQL NULL (endpoint setting CsvNullValue). */
  nullValue: '@@DMS_NULL@@',
  /** Name of the commit-timestamp column DMS adds (endpoint setting TimestampColumnName). */
  timestampColumn: 'dms_commit_ts',
  /** Name of the operation column DMS adds with IncludeOpForFullLoad (I, U, D). */
  opColumn: 'Op',
  /** Full-load file size in KB (endpoint setting MaxFileSize). */
  maxFileSizeKb: 32 * 1024,
  /** CDC: write a file at least every this many seconds (CdcMaxBatchInterval). */
  cdcMaxBatchIntervalSeconds: 60,
  /** CDC: or when this many KB are pending (CdcMinFileSize). */
  cdcMinFileSizeKb: 32 * 1024,
} as const;

/** Where DMS puts one object, parsed from its key `<folder>/<schema>/<table>/<file>`. */
export interface DmsObjectKey {
  readonly key: string;
  readonly schema: string;
  readonly table: string;
  readonly file: string;
  /** `full-load` for LOADnnnnnnnn and parallel-load LOAD_<segment>_nnnnnnnn files, `cdc` for timestamp-named change files. */
  readonly kind: 'full-load' | 'cdc';
  readonly gzip: boolean;
}

/**
 * Full-load files: DMS names them with an incremental hexadecimal counter, LOAD00000001.csv …
 * LOAD0000000A.csv (https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Target.S3.html).
 */
const LOAD_RE = /^LOAD[0-9A-F]{8}\.csv(\.gz)?$/i;
/**
 * Full-load files of a table loaded with parallel load (table-settings `parallel-load`, threads
 * per `ParallelLoadThreads`; https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Tasks.CustomizingTasks.TableMapping.SelectionTransformation.Tablesettings.html#CHAP_Tasks.CustomizingTasks.TableMapping.SelectionTransformation.Tablesettings.ParallelLoad):
 * one counter per segment, LOAD_<segment>_<counter>, e.g. LOAD_1_00000001.csv, LOAD_2_00000001.csv.
 * The AWS DMS guide does not spell this name out; it is the documented naming of the replication
 * engine DMS is built on (Qlik/Attunity Replicate, "Amazon S3 target overview":
 * https://help.qlik.com/en-US/replicate/November2023/Content/Replicate/Main/Amazon%20S3/file_as_target_overviews3.htm).
 * Every full-load file of a table holds inserts of the snapshot, so the loader needs no order among
 * them; it needs to know they are full-load files (a CDC file waits for all of them).
 */
const PARALLEL_LOAD_RE = /^LOAD_\d+_[0-9A-F]{8}\.csv(\.gz)?$/i;
const CDC_RE = /^\d{8}-\d{6,}\.csv(\.gz)?$/;

/**
 * Parses a DMS object key under `prefix`. Returns an error string (not a throw) for keys that are
 * not DMS data files, so the caller can report and skip them without losing anything.
 */
export function parseDmsKey(key: string, prefix: string): DmsObjectKey | string {
  const normPrefix = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
  if (!key.startsWith(normPrefix)) return `key "${key}" is not under the landing prefix "${normPrefix}"`;
  const parts = key.slice(normPrefix.length).split('/');
  if (parts.length !== 3 || parts.some((p) => p === '')) {
    return `key "${key}" is not <prefix><schema>/<table>/<file> (DatePartitionEnabled must be false)`;
  }
  const [schema, table, file] = parts;
  const gzip = file.toLowerCase().endsWith('.gz');
  if (LOAD_RE.test(file) || PARALLEL_LOAD_RE.test(file)) return { key, schema, table, file, kind: 'full-load', gzip };
  if (CDC_RE.test(file)) return { key, schema, table, file, kind: 'cdc', gzip };
  return `key "${key}" is not a DMS data file (LOADnnnnnnnn.csv, LOAD_<segment>_nnnnnnnn.csv or yyyyMMdd-HHmmssSSS.csv)`;
}

/**
 * DMS order of two files of the same table: every full-load file before every CDC file, then by
 * name (LOAD numbers and CDC timestamps both sort lexically).
 */
export function compareDmsFiles(a: DmsObjectKey, b: DmsObjectKey): number {
  if (a.kind !== b.kind) return a.kind === 'full-load' ? -1 : 1;
  return a.file < b.file ? -1 : a.file > b.file ? 1 : 0;
}
