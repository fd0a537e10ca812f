/**
 * Splits a PostgreSQL script (a `pg_dump --schema-only` file) into statements. Understands
 * '…' strings (with '' escapes), E'…' strings (backslash escapes), "identifiers", $tag$ dollar
 * quotes, -- and nested /* *\/ comments, psql meta-commands (`\connect`, `\restrict`, skipped), and
 * COPY … FROM stdin data blocks (skipped up to `\.`). Returns statements without the trailing `;`,
 * with leading comments removed, each with the line it starts on.
 */
export interface SqlStatement {
  readonly sql: string;
  readonly line: number;
  /** For `COPY … FROM stdin`: how many data lines followed (the data itself is skipped, never returned). */
  readonly dataRows?: number;
}

export function splitSql(text: string): SqlStatement[] {
  const out: SqlStatement[] = [];
  let i = 0;
  let start = 0;
  let line = 1;
  let startLine = 1;
  let atLineStart = true;
  const n = text.length;
  const push = (end: number) => {
    const raw = text.slice(start, end);
    const sql = stripLeadingComments(raw).trim();
    if (sql) out.push({ sql, line: startLine + leadingLines(raw, sql) });
  };
  while (i < n) {
    const ch = text[i];
    if (atLineStart && ch === '\\' && stripLeadingComments(text.slice(start, i)).trim() === '') {
      // psql meta-command: skip the line.
      const eol = text.indexOf('\n', i);
      i = eol < 0 ? n : eol + 1;
      line += 1;
      start = i;
      startLine = line;
      continue;
    }
    atLineStart = false;
    if (ch === '\n') {
      line += 1;
      atLineStart = true;
      i += 1;
      continue;
    }
    if (ch === '-' && text[i + 1] === '-') {
      const eol = text.indexOf('\n', i);
      i = eol < 0 ? n : eol;
      continue;
    }
    if (ch === '/' && text[i + 1] === '*') {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (text[i] === '\n') line += 1;
        if (text[i] === '/' && text[i + 1] === '*') {
          depth += 1;
          i += 2;
        } else if (text[i] === '*' && text[i + 1] === '/') {
          depth -= 1;
          i += 2;
        } else i += 1;
      }
      continue;
    }
    if (ch === "'") {
      const escapes = i > 0 && /[eE]/.test(text[i - 1]) && (i < 2 || !/[A-Za-z0-9_]/.test(text[i - 2]));
      i += 1;
      while (i < n) {
        if (text[i] === '\n') line += 1;
        if (escapes && text[i] === '\\') {
          i += 2;
          continue;
        }
        if (text[i] === "'") {
          if (text[i + 1] === "'") {
            i += 2;
            continue;
          }
          break;
        }
        i += 1;
      }
      i += 1;
      continue;
    }
    if (ch === '"') {
      i += 1;
      while (i < n && !(text[i] === '"' && text[i + 1] !== '"')) {
        if (text[i] === '"') i += 1;
        if (text[i] === '\n') line += 1;
        i += 1;
      }
      i += 1;
      continue;
    }
    if (ch === '$') {
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(text.slice(i, i + 64));
      if (m && (i === 0 || !/[A-Za-z0-9_]/.test(text[i - 1]))) {
        const tag = m[0];
        const end = text.indexOf(tag, i + tag.length);
        const stop = end < 0 ? n : end + tag.length;
        for (let k = i; k < stop; k += 1) if (text[k] === '\n') line += 1;
        i = stop;
        continue;
      }
    }
    if (ch === ';') {
      push(i);
      const stmt = out[out.length - 1];
      i += 1;
      if (stmt && /^COPY\b[\s\S]*\bFROM\s+stdin\b/i.test(stmt.sql)) {
        // The COPY header stays (the converter reports the table's rows as left out); its data lines are skipped.
        const endData = text.indexOf('\n\\.', i);
        const stop = endData < 0 ? n : text.indexOf('\n', endData + 1) < 0 ? n : text.indexOf('\n', endData + 1) + 1;

        for (let k = i; k < stop; k += 1) if (text[k] === '\n') line += 1;
        const body = text.slice(text.indexOf('\n', i) + 1, endData < 0 ? n : endData + 1);
        const rows = body ? body.split('\n').filter((l) => l !== '' && l !== '\r').length : 0;
        out[out.length - 1] = { ...stmt, dataRows: rows };
        i = stop;
        atLineStart = true;
      }
      start = i;
      startLine = line;
      continue;
    }
    i += 1;
  }
  push(n);
  return out;
}

function stripLeadingComments(s: string): string {
  let t = s;
  for (;;) {
    const trimmed = t.replace(/^\s+/, '');
    if (trimmed.startsWith('--')) {
      const eol = trimmed.indexOf('\n');
      t = eol < 0 ? '' : trimmed.slice(eol + 1);
    } else if (trimmed.startsWith('/*')) {
      let depth = 0;
      let k = 0;
      for (; k < trimmed.length; k += 1) {
        if (trimmed.startsWith('/*', k)) {
          depth += 1;
          k += 1;
        } else if (trimmed.startsWith('*/', k)) {
          depth -= 1;
          k += 1;
          if (depth === 0) break;
        }
      }
      t = trimmed.slice(k + 1);
    } else return trimmed;
  }
}

function leadingLines(raw: string, sql: string): number {
  const idx = raw.indexOf(sql.slice(0, Math.min(20, sql.length)));
  return idx <= 0 ? 0 : (raw.slice(0, idx).match(/\n/g) ?? []).length;
}

/**
 * Index of the quote that closes the '…' string or "…" identifier opening at `i`. Doubled quotes are
 * escapes; an E'…' string (E or e right before the quote, not part of a longer word) also has backslash
 * escapes (\' does not end it).
 */
export function quoteEnd(s: string, i: number): number {
  const q = s[i];
  const escapes = q === "'" && i > 0 && /[eE]/.test(s[i - 1]) && (i < 2 || !/[\w$]/.test(s[i - 2]));
  let j = i + 1;
  while (j < s.length) {
    if (escapes && s[j] === '\\') {
      j += 2;
      continue;
    }
    if (s[j] === q) {
      if (s[j + 1] === q) {
        j += 2;
        continue;
      }
      return j;
    }
    j += 1;
  }
  return s.length;
}

/** Splits a parenthesized list body at top-level commas (outside parens, quotes and strings). */
export function splitTopLevel(body: string, sep = ','): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (let i = 0; i < body.length; i += 1) {
    const ch = body[i];
    if (ch === "'" || ch === '"') {
      const j = quoteEnd(body, i);
      cur += body.slice(i, j + 1);
      i = j;
      continue;
    }
    if (ch === '(') depth += 1;
    if (ch === ')') depth -= 1;
    if (ch === sep && depth === 0) {
      parts.push(cur.trim());
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (cur.trim()) parts.push(cur.trim());
  return parts;
}

/** Index of the parenthesis that closes the one at `open`. */
export function matchParen(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i += 1) {
    const ch = s[i];
    if (ch === "'" || ch === '"') {
      i = quoteEnd(s, i);
      continue;
    }
    if (ch === '(') depth += 1;
    if (ch === ')') {
      depth -= 1;
      if (depth === 0) return i;
    }
  }
  return -1;
}
