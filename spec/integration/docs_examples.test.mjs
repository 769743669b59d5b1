// Every ```lua block of docs/lua-api.md and README.md is a complete script
// that loads next to all the others. They are written as the files of one
// scripts directory (in document order) and loaded into one server: a syntax
// error, a bad or duplicate declaration, or an error at load time fails the
// test, and the message names the block (document and line) and shows it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT, startServer, scriptsDir, sleep } from './lib/harness.mjs';

const SOURCES = ['docs/lua-api.md', 'README.md'];

// [{ doc, line, code, file }] in document order; `line` is the block's first code line.
function luaBlocks() {
  const blocks = [];
  for (const doc of SOURCES) {
    const lines = fs.readFileSync(path.join(ROOT, doc), 'utf8').split('\n');
    let start = -1;
    for (let i = 0; i < lines.length; i++) {
      if (start < 0) {
        if (/^\s*```lua\s*$/.test(lines[i])) start = i + 1;
      } else if (/^\s*```\s*$/.test(lines[i])) {
        blocks.push({ doc, line: start + 1, code: lines.slice(start, i).join('\n') + '\n' });
        start = -1;
      }
    }
    assert.equal(start, -1, `${doc}: the lua block opened at line ${start} is never closed`);
  }
  const slug = (doc) => path.basename(doc, '.md').toLowerCase();
  blocks.forEach((b, i) => { b.file = `${String(i + 1).padStart(3, '0')}-${slug(b.doc)}-L${b.line}.lua`; });
  return blocks;
}

const show = (b) => `${b.doc}:${b.line} (${b.file}):\n${b.code.replace(/^/gm, '    ')}`;

// Blocks named (by file name) in a server error message.
const blamed = (blocks, text) => blocks.filter((b) => text.includes(b.file));

// Adds the document line to every "<file>:<line>:" of a message.
function located(blocks, text) {
  for (const b of blocks) {
    text = text.replaceAll(new RegExp(`${b.file.replaceAll('.', '\\.')}:(\\d+):`, 'g'),
      (_, n) => `${b.file}:${n} (${b.doc}:${b.line + Number(n) - 1}):`);
  }
  return text;
}

// A per-block syntax checker: luac5.4 -p, else lua5.4 loading the file, else none.
function syntaxChecker() {
  if (!spawnSync('luac5.4', ['-v']).error) return (file) => spawnSync('luac5.4', ['-p', file], { encoding: 'utf8' });
  if (!spawnSync('lua5.4', ['-v']).error) {
    return (file) => spawnSync('lua5.4', ['-e', 'assert(loadfile(arg[1]))', file], { encoding: 'utf8' });
  }
  return null;
}

describe('the Lua examples in the docs', () => {
  const blocks = luaBlocks();
  let dir, srv, startError;

  before(async () => {
    dir = scriptsDir(Object.fromEntries(blocks.map((b) => [b.file, b.code])));
    try {
      srv = await startServer({ scripts: [dir], env: { LOG_LEVEL: 'info' } });
    } catch (e) {
      startError = e;
    }
  });
  after(async () => {
    if (srv) assert.equal((await srv.stop()).code, 0);
  });

  it('are there to check', () => {
    assert.ok(blocks.filter((b) => b.doc === 'docs/lua-api.md').length >= 40,
      `only ${blocks.length} lua blocks found in docs/lua-api.md`);
  });

  it('each parse as Lua on their own', { skip: !syntaxChecker() && 'neither luac5.4 nor lua5.4 is installed' }, () => {
    const check = syntaxChecker();
    const bad = [];
    for (const b of blocks) {
      const r = check(path.join(dir, b.file));
      if (r.status !== 0) bad.push(`${located(blocks, (r.stderr || r.stdout).trim())}\n${show(b)}`);
    }
    assert.equal(bad.length, 0, `blocks with syntax errors:\n${bad.join('\n')}`);
  });

  it('all load into one server, as generation 1 with no reload error', async () => {
    if (startError) {
      const named = blamed(blocks, startError.message);
      assert.fail(`the server did not start with the doc examples loaded:\n${located(blocks, startError.message)}\n` +
        (named.length ? `the failing block:\n${named.map(show).join('\n')}` : ''));
    }
    const health = await (await fetch(srv.url('/healthz'))).json();
    const err = health.last_reload_error ?? '';
    assert.equal(health.last_reload_error, null,
      `reload error: ${located(blocks, err)}\n${blamed(blocks, err).map(show).join('\n')}`);
    assert.equal(health.generation, 1);
  });

  it('run their load-time timers without errors', async () => {
    assert.ok(srv, 'the server did not start');
    // mw.after(0, …) and mw.after(1, …) examples have fired by then.
    await sleep(1300);
    const errors = srv.stderr.split('\n').filter((l) => /\blevel=error\b/.test(l));
    const named = blamed(blocks, errors.join('\n'));
    assert.equal(errors.length, 0, `errors logged:\n${located(blocks, errors.join('\n'))}\n${named.map(show).join('\n')}`);
  });
});
