// Sends COUNT identical stateless tools/call echo requests (bench/wrk/toolcall.lua's request)
// one after another over one keep-alive connection to 127.0.0.1:PORT/mcp and checks every
// answer. Usage: node toolcall-client.mjs PORT COUNT. Exits 1 on any wrong answer.
import net from "node:net";

const [port, count] = process.argv.slice(2).map(Number);
if (!port || !(count > 0)) {
  console.error("usage: toolcall-client.mjs PORT COUNT");
  process.exit(2);
}
const body =
  '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"},' +
  '"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}';
const request =
  "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
  "Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\n" +
  `Mcp-Method: tools/call\r\nMcp-Name: echo\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n` +
  body;

const sock = net.connect(port, "127.0.0.1");
let buf = "";
let done = 0;
const timer = setTimeout(() => fail("timed out"), 600000);
function fail(msg) {
  console.error(`toolcall-client: ${msg}`);
  process.exit(1);
}
sock.on("error", (e) => fail(e.message));
sock.on("connect", () => sock.write(request));
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
    sock.write(request);
  }
});
