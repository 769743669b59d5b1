// The 2.x SDK's stateless server as its docs show it: createMcpHandler with a per-request
// McpServer factory (2026-07-28, with the default stateless fallback for 2025-era clients),
// mounted on node:http with toNodeHandler behind the localhost Host/Origin guards.
import { createServer } from 'node:http';
import { localhostHostValidation, localhostOriginValidation, toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import * as z from 'zod';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('usage: sdk2.mjs PORT');
  process.exit(2);
}

const factory = () => {
  const server = new McpServer({ name: 'bench-sdk2', version: '1.0.0' });
  server.registerTool(
    'echo',
    { description: 'Returns its text argument', inputSchema: z.object({ text: z.string() }) },
    async ({ text }) => ({ content: [{ type: 'text', text }] })
  );
  return server;
};

const handler = createMcpHandler(factory);
const serve = toNodeHandler(handler);
const validateHost = localhostHostValidation();
const validateOrigin = localhostOriginValidation();

const http = createServer(async (req, res) => {
  if (!validateHost(req, res) || !validateOrigin(req, res)) return;
  if (new URL(req.url, 'http://localhost').pathname !== '/mcp') {
    res.writeHead(404).end();
    return;
  }
  await serve(req, res);
});
http.listen(port, '127.0.0.1', () => console.error(`sdk2 listening on 127.0.0.1:${port}`));

const stop = () => handler.close().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
