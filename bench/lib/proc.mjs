// Process plumbing for the benchmark run: start a server as one foreground
// process, wait for its port, read its RSS and CPU from /proc, stop it.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const live = new Set();

// Nothing a run starts may outlive it, whatever way it ends.
function killAll() {
  for (const p of live) { try { p.kill('SIGKILL'); } catch { /* already gone */ } }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { killAll(); process.exit(130); });

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Starts `cmd args` in the foreground; output goes to `log` (a file path).
export function start(cmd, args, { env = {}, log, cwd } = {}) {
  const fd = log ? fs.openSync(log, 'a') : 'ignore';
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, cwd,
    stdio: ['ignore', fd, fd] });
  if (typeof fd === 'number') fs.closeSync(fd);
  live.add(child);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => {
    live.delete(child);
    resolve({ code, signal });
  }));
  return {
    pid: child.pid, child, exited,
    async stop() {
      if (!live.has(child)) return exited;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  };
}

export async function waitPort(port, { host = '127.0.0.1', timeoutMs = 20000, proc } = {}) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (proc && !live.has(proc.child)) throw new Error(`process ${proc.pid} exited before listening on ${port}`);
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, host, () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listening on ${host}:${port}`);
    await sleep(50);
  }
}

// Resident set size of `pid`, bytes.
export function rss(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

// CPU time `pid` has used, seconds (children not included): { user, sys }.
export function cpuSplit(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]) / CLK_TCK, sys: Number(f[12]) / CLK_TCK };
}

// User + system CPU time `pid` has used, seconds.
export function cpu(pid) {
  const { user, sys } = cpuSplit(pid);
  return user + sys;
}

// Runs a command to completion and returns its stdout; rejects on a nonzero
// exit with stderr's tail. `timeoutMs` bounds it.
export function run(cmd, args, { env = {}, timeoutMs = 120000, cwd } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, cwd,
      stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(t);
      live.delete(child);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code ?? signal}: ${err.slice(-2000)}`));
    });
  });
}

// The last line of `text` that parses as a JSON object.
export function lastJson(text) {
  const lines = text.trim().split('\n').reverse();
  for (const l of lines) {
    try { const v = JSON.parse(l); if (v && typeof v === 'object') return v; } catch { /* not JSON */ }
  }
  throw new Error(`no JSON line in output: ${text.slice(-500)}`);
}

// A free TCP port on 127.0.0.1.
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}
