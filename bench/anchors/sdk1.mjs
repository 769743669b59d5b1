// The 1.x SDK serving both transports the way its backwards-compatible example does:
// Streamable HTTP with sessions at /mcp (one transport and one McpServer per session,
// GET streams included) and the deprecated HTTP+SSE transport at GET /sse + POST /messages.
// Differences from the example: no per-request console.log (it would dominate a benchmark),
// no idle reaper or session cap (a benchmark opens thousands of sessions on purpose), no
// event store (resumability is off, as in the SDK's simple examples).
import { randomUUID } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import * as z from 'zod/v4';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('usage: sdk1.mjs PORT');
  process.exit(2);
}

const getServer = () => {
  const server = new McpServer({ name: 'bench-sdk1', version: '1.0.0' });
  server.registerTool(
    'echo',
    { description: 'Returns its text argument', inputSchema: { text: z.string() } },
    async ({ text }) => ({ content: [{ type: 'text', text }] })
  );
  return server;
};

const app = createMcpExpressApp();
const transports = new Map(); // session id -> StreamableHTTPServerTransport | SSEServerTransport

const jsonError = (res, status, code, message) =>
  res.status(status).json({ jsonrpc: '2.0', error: { code, message }, id: null });

app.all('/mcp', async (req, res) => {
  try {
    const sessionId = req.headers['mcp-session-id'];
    let transport = sessionId ? transports.get(sessionId) : undefined;
    if (transport && !(transport instanceof StreamableHTTPServerTransport)) {
      return jsonError(res, 400, -32000, 'Bad Request: Session exists but uses a different transport protocol');
    }
    if (!transport) {
      if (sessionId) return jsonError(res, 404, -32001, 'Session not found');
      if (req.method !== 'POST' || !isInitializeRequest(req.body)) {
        return jsonError(res, 400, -32000, 'Bad Request: No valid session ID provided');
      }
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => transports.set(id, created),
      });
      created.onclose = () => {
        if (created.sessionId) transports.delete(created.sessionId);
      };
      await getServer().connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res, req.body);
  } catch (error) {
    console.error('Error handling MCP request:', error);
    if (!res.headersSent) jsonError(res, 500, -32603, 'Internal server error');
  }
});

app.get('/sse', async (req, res) => {
  const transport = new SSEServerTransport('/messages', res);
  transports.set(transport.sessionId, transport);
  transport.onclose = () => transports.delete(transport.sessionId);
  await getServer().connect(transport);
});

app.post('/messages', async (req, res) => {
  const transport = transports.get(req.query.sessionId);
  if (!(transport instanceof SSEServerTransport)) {
    return jsonError(res, 400, -32000, 'Bad Request: No SSE session for this sessionId');
  }
  await transport.handlePostMessage(req, res, req.body);
});

app.listen(port, '127.0.0.1', (error) => {
  if (error) {
    console.error('sdk1: listen failed:', error);
    process.exit(1);
  }
  console.error(`sdk1 listening on 127.0.0.1:${port}`);
});

const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
