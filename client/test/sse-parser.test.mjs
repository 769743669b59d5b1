// SSEParser against the WHATWG event-stream interpretation rules, with no network.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SSEParser } from '../sse-connection.js';

// Feeds each chunk in turn; returns everything the parser reported.
function parse(chunks, opts) {
  const out = { events: [], comments: [], retries: [] };
  const p = new SSEParser({
    onEvent: (e) => out.events.push(e),
    onComment: (c) => out.comments.push(c),
    onRetry: (ms) => out.retries.push(ms),
  }, opts);
  for (const c of chunks) p.feed(c);
  out.parser = p;
  return out;
}
const enc = (s) => new TextEncoder().encode(s);
const ev = (data, type = 'message', lastEventId = '', id = undefined) => ({ type, data, lastEventId, id });

describe('SSEParser', () => {
  it('dispatches on a blank line with type "message" and no trailing LF', () => {
    const { events } = parse(['data: hello\n\n']);
    assert.deepEqual(events, [ev('hello')]);
  });

  it('joins multi-line data with LF', () => {
    const { events } = parse(['data: a\ndata:b\ndata:  c\n\n']);
    assert.deepEqual(events, [ev('a\nb\n c')]);
  });

  it('removes exactly one leading space from a value', () => {
    const { events } = parse(['data:  two\n\nevent:   x\ndata:y\n\n']);
    assert.equal(events[0].data, ' two');
    assert.equal(events[1].type, '  x');
  });

  it('accepts LF, CR and CRLF line ends, also mixed', () => {
    for (const nl of ['\n', '\r', '\r\n']) {
      const { events } = parse([`event: e${nl}data: 1${nl}data: 2${nl}${nl}data: 3${nl}${nl}`]);
      assert.deepEqual(events, [ev('1\n2', 'e'), ev('3')], JSON.stringify(nl));
    }
    const { events } = parse(['data: a\r\ndata: b\rdata: c\n\r\n']);
    assert.deepEqual(events, [ev('a\nb\nc')]);
  });

  it('treats a CR ending one chunk and an LF starting the next as one line end', () => {
    const { events } = parse(['data: a\r', '\ndata: b\r', '\n\r', '\n']);
    assert.deepEqual(events, [ev('a\nb')]);
    // Bytes too, and a CR at a chunk end still ends the line at once.
    const r = parse([enc('data: x\r'), enc('\r')]);
    assert.deepEqual(r.events, [ev('x')]);
  });

  it('strips a BOM only at the very start of the stream', () => {
    assert.deepEqual(parse(['\uFEFFdata: a\n\n']).events, [ev('a')]);
    assert.deepEqual(parse([enc('\uFEFFdata: a\n\n')]).events, [ev('a')]);
    // BOM split over byte chunks
    const bom = enc('\uFEFFdata: a\n\n');
    assert.deepEqual(parse([bom.slice(0, 1), bom.slice(1, 2), bom.slice(2)]).events, [ev('a')]);
    // A second BOM is part of the field name, which is then unknown and ignored.
    assert.deepEqual(parse(['\uFEFF\uFEFFdata: a\n\n']).events, []);
    assert.deepEqual(parse(['data: a\n\n\uFEFFdata: b\n\n']).events, [ev('a')]);
    // In a value it is kept.
    assert.deepEqual(parse(['data: \uFEFFa\n\n']).events, [ev('\uFEFFa')]);
  });

  it('reports comments and dispatches nothing for them', () => {
    const r = parse([': heartbeat\n\n:\n\ndata: x\n: mid\n\n']);
    assert.deepEqual(r.comments, [' heartbeat', '', ' mid']);
    assert.deepEqual(r.events, [ev('x')]);
  });

  it('treats a line without a colon as a field with an empty value', () => {
    // "data" alone appends an empty line to the buffer: one "data" yields an event with data "".
    assert.deepEqual(parse(['data\n\n']).events, [ev('')]);
    assert.deepEqual(parse(['data\ndata\n\n']).events, [ev('\n')]);
    assert.deepEqual(parse(['data: a\ndata\n\n']).events, [ev('a\n')]);
    // "event" alone resets the type to the default.
    assert.deepEqual(parse(['event\ndata: a\n\n']).events, [ev('a')]);
  });

  it('does not dispatch when the data buffer is empty, and resets the type', () => {
    const r = parse(['event: x\n\ndata: a\n\n', 'data:\n\n', 'event: y\ndata:\n\n']);
    // "data:" appends "\n"; the trailing LF is removed only after the emptiness check.
    assert.deepEqual(r.events, [ev('a'), ev(''), ev('', 'y')]);
    assert.deepEqual(parse(['event: x\nid: 1\n\n']).events, []);
  });

  it('ignores unknown fields and field names are case-sensitive', () => {
    assert.deepEqual(parse(['Data: a\nfoo: b\ndata: c\n\n']).events, [ev('c')]);
  });

  it('keeps the last event id across events; an event block can set it without data', () => {
    const r = parse(['id: 1\ndata: a\n\ndata: b\n\nid: 7\n\ndata: c\n\nid\ndata: d\n\n']);
    assert.deepEqual(r.events, [ev('a', 'message', '1', '1'), ev('b', 'message', '1'),
      ev('c', 'message', '7'), ev('d', 'message', '', '')]);
    assert.equal(r.parser.lastEventId, '');
  });

  it('ignores an id containing NUL', () => {
    const r = parse(['id: 5\ndata: a\n\nid: 6\0x\ndata: b\n\n']);
    assert.deepEqual(r.events, [ev('a', 'message', '5', '5'), ev('b', 'message', '5')]);
  });

  it('accepts retry with ASCII digits only', () => {
    const r = parse(['retry: 1500\n\nretry: 15x\nretry: -1\nretry: 1.5\nretry:\nretry:  2\nretry: ０\nretry:0\n\n']);
    assert.deepEqual(r.retries, [1500, 0]);
    assert.deepEqual(r.events, []);
  });

  it('discards an unterminated event at end of stream but keeps the committed id', () => {
    const r = parse(['id: 1\ndata: a\n\nid: 2\ndata: b\n']);
    r.parser.end();
    assert.deepEqual(r.events, [ev('a', 'message', '1', '1')]);
    assert.equal(r.parser.lastEventId, '1');
    r.parser.feed('data: c\n\n');
    assert.deepEqual(r.events.at(-1), ev('c', 'message', '1'));
  });

  it('reset() starts a new stream: BOM allowed again, partial line dropped, id kept', () => {
    const r = parse(['id: 9\n\ndata: part']);
    r.parser.reset();
    r.parser.feed('\uFEFFdata: x\n\n');
    assert.deepEqual(r.events, [ev('x', 'message', '9')]);
  });

  it('decodes multi-byte UTF-8 split across chunks', () => {
    const bytes = enc('data: héllo €𝄞\n\n');
    for (let i = 0; i <= bytes.length; i++) {
      const r = parse([bytes.slice(0, i), bytes.slice(i)]);
      assert.deepEqual(r.events, [ev('héllo €𝄞')], `split at ${i}`);
    }
  });

  it('yields identical events for every split point of a sample stream (bytes and text)', () => {
    const sample = '\uFEFF: hi\r\nretry: 3000\r\nevent: greet\r\nid: 1\r\ndata: héllo\r\ndata:  two\r\n\r\n' +
      'data: 𝄞 x\rid: 2\0\r\rid\n: c\ndata\ndata: y\n\nid: 3\r\nevent: add\nfoo\ndata:z\r\n\r\n';
    const want = parse([sample]);
    assert.equal(want.events.length, 4);
    const bytes = enc(sample);
    for (let i = 0; i <= bytes.length; i++) {
      for (const j of [i, Math.min(bytes.length, i + 1), Math.min(bytes.length, i + 3)]) {
        const got = parse([bytes.slice(0, i), bytes.slice(i, j), bytes.slice(j)]);
        assert.deepEqual(got.events, want.events, `bytes split at ${i},${j}`);
        assert.deepEqual(got.retries, want.retries);
        assert.deepEqual(got.comments, want.comments);
      }
    }
    for (let i = 0; i <= sample.length; i++) {
      const got = parse([sample.slice(0, i), sample.slice(i)]);
      assert.deepEqual(got.events, want.events, `text split at ${i}`);
    }
    // One byte at a time.
    const one = parse([...bytes].map((b) => Uint8Array.of(b)));
    assert.deepEqual(one.events, want.events);
  });
});
