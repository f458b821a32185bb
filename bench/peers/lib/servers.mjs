// Starts the servers under test as child processes, each in its own process group with its own
// data directory, on 127.0.0.1, and stops them by PID (SIGTERM, then SIGKILL after 10 s).
//
// beanstalkd and redis-server cannot pick a port themselves and report it, so they get one that
// was free a moment before (bound on port 0, then closed); nats-server writes its random port to
// a ports file and conveyord to --port-file. A server that exits before serving (e.g. the port
// was taken meanwhile) is an error carrying its log.

import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

const STARTUP_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;

const running = new Set();

// Stops every server still running (on the harness's exit or interruption).
export async function stopAll() {
  await Promise.all([...running].map((s) => s.stop()));
}

export async function waitFor(condition, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(10);
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

// Spawns `binary args` with stdout and stderr to DIR/server.log. Resolves to a handle once
// `ready()` returns a port; { name, pid, port, log(), stop() }.
async function startProcess(name, dir, binary, args, ready) {
  mkdirSync(dir, { recursive: true });
  const logPath = join(dir, 'server.log');
  const logFd = openSync(logPath, 'w');
  const child = spawn(binary, args, { stdio: ['ignore', logFd, logFd], detached: true });
  closeSync(logFd);
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => { exited = { code, signal }; resolve(); });
    child.on('error', (e) => { exited = { error: e.message }; resolve(); });
  });
  const log = () => { try { return readFileSync(logPath, 'utf8'); } catch { return ''; } };
  const handle = {
    name,
    pid: child.pid,
    port: 0,
    dir,
    log,
    async stop() {
      if (exited === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => { if (exited === null) child.kill('SIGKILL'); }, STOP_GRACE_MS);
        await exitPromise;
        clearTimeout(timer);
      }
      running.delete(handle);
    },
  };
  running.add(handle);
  try {
    handle.port = await waitFor(async () => {
      if (exited !== null) {
        throw new Error(`${name} exited (${JSON.stringify(exited)}) before serving:\n${log()}`);
      }
      return ready();
    }, STARTUP_TIMEOUT_MS, `${name} to serve`);
  } catch (e) {
    await handle.stop();
    throw e;
  }
  return handle;
}

// A port chosen before start: ready once it accepts connections.
async function startOnFreePort(name, dir, binary, argsFor) {
  const port = await freePort();
  return startProcess(name, dir, binary, argsFor(port), async () => ((await canConnect(port)) ? port : 0));
}

// beanstalkd with its binlog in DIR/binlog (default fsync policy: at most every 50 ms).
export function startBeanstalkd(dir) {
  const binlog = join(dir, 'binlog');
  mkdirSync(binlog, { recursive: true });
  return startOnFreePort('beanstalkd', dir, 'beanstalkd', (port) => ['-l', '127.0.0.1', '-p', String(port), '-b', binlog]);
}

// redis-server with the append-only file on, fsync once a second, no RDB snapshots.
export function startRedis(dir) {
  const data = join(dir, 'data');
  mkdirSync(data, { recursive: true });
  return startOnFreePort('redis-server', dir, 'redis-server', (port) => [
    '--bind', '127.0.0.1', '--port', String(port), '--dir', data, '--appendonly', 'yes',
    '--appendfsync', 'everysec', '--save', '', '--daemonize', 'no', '--maxmemory-policy', 'noeviction',
  ]);
}

// nats-server with JetStream on file storage in DIR/jetstream; random port from its ports file.
export function startNats(dir) {
  const store = join(dir, 'jetstream');
  const portsDir = join(dir, 'ports');
  mkdirSync(portsDir, { recursive: true });
  return startProcess('nats-server', dir, 'nats-server',
    ['-a', '127.0.0.1', '-p', '-1', '-js', '-sd', store, '--ports_file_dir', portsDir],
    async () => {
      const file = readdirSync(portsDir).find((f) => f.endsWith('.ports'));
      if (!file) return 0;
      let ports;
      try { ports = JSON.parse(readFileSync(join(portsDir, file), 'utf8')); } catch { return 0; }
      const url = ports.nats?.[0];  // e.g. nats://127.0.0.1:41234
      const port = url ? Number(new URL(url).port) : 0;
      return port && (await canConnect(port)) ? port : 0;
    });
}

// conveyord with its default durable store (SQLite WAL, survives kill -9) in DIR/data.
export function startConveyord(dir, binary) {
  const portFile = join(dir, 'port');
  return startProcess('conveyord', dir, binary, [
    '--listen=127.0.0.1:0', `--port-file=${portFile}`, `--data-dir=${join(dir, 'data')}`,
    '--metrics-listen=127.0.0.1:0', '--log-level=warn', '--drain-grace=1s',
  ], () => {
    let text;
    try { text = readFileSync(portFile, 'utf8'); } catch { return 0; }
    return text.endsWith('\n') ? Number.parseInt(text, 10) : 0;  // A full line only.
  });
}
