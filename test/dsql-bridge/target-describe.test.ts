/**
 * describeTable (lambda/dsql-loader/target.ts) against a real PostgreSQL (embedded, one server for this file):
 * the columns the loader writes (in table order, with the cast type and base type that pick the value checks),
 * the primary key in key order, and the secondary-index count the byte budget multiplies by; and the errors
 * that stop a load before anything is written (no table, no primary key).
 */
import { Client } from 'pg';
import { describeTable } from '../../lambda/dsql-loader/target';
import { startPostgres, TestPostgres } from '../helpers/postgres';

let pg: TestPostgres;
let c: Client;

beforeAll(async () => {
  pg = await startPostgres();
  c = await pg.client();
  await c.query(`CREATE SCHEMA app;
    CREATE TABLE app.lines (note text, order_id integer NOT NULL, line_no smallint NOT NULL, dropped int, sku varchar(20) NOT NULL,
      amount numeric(10,2), doc json, PRIMARY KEY (line_no, order_id));
    ALTER TABLE app.lines DROP COLUMN dropped;
    CREATE INDEX lines_sku ON app.lines (sku);
    CREATE INDEX lines_amount ON app.lines (amount);
    CREATE TABLE app.plain (id bigint PRIMARY KEY);
    CREATE TABLE app.nokey (id bigint);
    CREATE TABLE public.lines (x int PRIMARY KEY);`);
}, 120_000);

afterAll(async () => {
  await c?.end();
  await pg?.stop();
});

test('columns in table order (dropped ones left out) with format_type and base type; primary key in key order; secondary indexes counted', async () => {
  expect(await describeTable(c, 'app', 'lines')).toEqual({
    schema: 'app',
    table: 'lines',
    columns: [
      { name: 'note', type: 'text', base: 'text', notNull: false },
      { name: 'order_id', type: 'integer', base: 'int4', notNull: true },
      { name: 'line_no', type: 'smallint', base: 'int2', notNull: true },
      { name: 'sku', type: 'character varying(20)', base: 'varchar', notNull: true },
      { name: 'amount', type: 'numeric(10,2)', base: 'numeric', notNull: false },
      { name: 'doc', type: 'json', base: 'json', notNull: false },
    ],
    primaryKey: ['line_no', 'order_id'],
    secondaryIndexes: 2,
  });
  expect(await describeTable(c, 'app', 'plain')).toEqual({
    schema: 'app',
    table: 'plain',
    columns: [{ name: 'id', type: 'bigint', base: 'int8', notNull: true }],
    primaryKey: ['id'],
    secondaryIndexes: 0,
  });
});

test('a missing table and a table without a primary key are refused with what to do', async () => {
  await expect(describeTable(c, 'app', 'nothere')).rejects.toThrow(
    'target table app.nothere does not exist: apply the converted schema first (npm run dsql-schema -- --apply)',
  );
  await expect(describeTable(c, 'other', 'lines')).rejects.toThrow('target table other.lines does not exist');
  await expect(describeTable(c, 'app', 'nokey')).rejects.toThrow(
    'target table app.nokey has no primary key: the loader needs one to load idempotently and apply updates/deletes',
  );
});
