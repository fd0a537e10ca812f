import { convertSchema } from '../../lambda/dsql-loader/schema-convert';

test('a view over a mixed-case (quoted) table is kept, not dropped as using an object the DDL does not create', async () => {
  const r = await convertSchema(`CREATE TABLE "public"."Items" ("id" bigint NOT NULL, "Name" text);
ALTER TABLE ONLY "public"."Items" ADD CONSTRAINT "Items_pkey" PRIMARY KEY ("id");
CREATE FUNCTION public."Twice"(x bigint) RETURNS bigint LANGUAGE sql AS $$ SELECT x * 2 $$;
CREATE VIEW "public"."ItemNames" AS SELECT "Name", public."Twice"("id") AS twice FROM "public"."Items";`);
  expect(r.statements.map((s) => s.object)).toEqual(['table public."Items"', 'function public."Twice"', 'view public."ItemNames"']);
  expect(r.findings.filter((f) => f.rule === 'dependent-object')).toEqual([]);
});
