// Sends COUNT identical tools/call echo requests (bench/wrk/toolcall.lua's request) one
// after another over one keep-alive connection to 127.0.0.1:PORT/mcp and checks every
// answer. Like wrk's, the requests carry ids 1..1000 in turn (a session's requests in
// flight are kept by id, and cjson prints each). FORM is stateless (default: the 2026-07-28 request) or session (a 2025-11-25
// session is opened first, as bench/wrk-toolcall.sh does, and every call names it).
// Usage: node toolcall-client.mjs PORT COUNT [FORM]. Exits 1 on any wrong answer.
import net from "node:net";

const [port, count] = process.argv.slice(2, 4).map(Number);
const form = process.argv[4] || "stateless";
if (!port || !(count > 0) || !["stateless", "session"].includes(form)) {
  console.error("usage: toolcall-client.mjs PORT COUNT [stateless|session]");
  process.exit(2);
}
const REVISION = "2025-11-25";

async function post(body, headers = {}) {
  const res = await fetch(`http://127.0.0.1:${port}/mcp`, {
    method: "POST",
    body,
    headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream", ...headers },
  });
  await res.text();
  if (!res.ok) fail(`${body} answered ${res.status}`);
  return res;
}

let body, headers;
if (form === "stateless") {
  body =
    '{"jsonrpc":"2.0","id":ID,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"},' +
    '"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}';
  headers = "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: echo\r\n";
} else {
  const init = await post(
    `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"${REVISION}","capabilities":{},"clientInfo":{"name":"profile","version":"1.0.0"}}}`
  );
  const sid = init.headers.get("mcp-session-id");
  if (!sid) fail("initialize answered no Mcp-Session-Id");
  headers = `Mcp-Session-Id: ${sid}\r\nMCP-Protocol-Version: ${REVISION}\r\n`;
  await post('{"jsonrpc":"2.0","method":"notifications/initialized"}', {
    "Mcp-Session-Id": sid,
    "MCP-Protocol-Version": REVISION,
  });
  body = '{"jsonrpc":"2.0","id":ID,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}';
}
const requests = Array.from({ length: 1000 }, (_, i) => {
  const b = body.replace("ID", String(i + 1));
  return (
    "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
    `Accept: application/json, text/event-stream\r\n${headers}Content-Length: ${Buffer.byteLength(b)}\r\n\r\n` +
    b
  );
});

const sock = net.connect(port, "127.0.0.1");
let buf = "";
let done = 0;
const timer = setTimeout(() => fail("timed out"), 600000);
function fail(msg) {
  console.error(`toolcall-client: ${msg}`);
  process.exit(1);
}
sock.on("error", (e) => fail(e.message));
sock.on("connect", () => sock.write(requests[0]));
sock.on("data", (d) => {
  buf += d.toString("latin1");
  for (;;) {
    const end = buf.indexOf("\r\n\r\n");
    if (end < 0) return;
    const m = /content-length: *(\d+)/i.exec(buf.slice(0, end));
    if (!m) fail(`answer without Content-Length: ${buf.slice(0, end)}`);
    const total = end + 4 + Number(m[1]);
    if (buf.length < total) return;
    const answer = buf.slice(0, total);
    buf = buf.slice(total);
    if (!answer.startsWith("HTTP/1.1 200") || !answer.includes('"text":"hello"'))
      fail(`unexpected answer: ${answer}`);
    if (++done === count) {
      clearTimeout(timer);
      sock.end();
      return;
    }
    sock.write(requests[done % requests.length]);
  }
});
