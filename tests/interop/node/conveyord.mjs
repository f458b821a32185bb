// Starts one conveyord child for a test: its own temp dir and process group, port 0 with
// --port-file, stopped by its PID. Shared by interop.test.mjs and reflection.test.mjs.
//
// The binary and the proto dir come from the environment (tests/interop/CMakeLists.txt sets
// them): CONVEYORD=path/to/conveyord, CONVEYOR_PROTO_DIR=path/to/proto.

import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

// Long enough for a loaded 2-core CI machine; a healthy start takes well under a second.
const STARTUP_TIMEOUT_MS = 30_000;

export function requiredEnv(name) {
  const value = process.env[name];
  if (!value) throw new Error(`set ${name} (tests/interop/CMakeLists.txt does)`);
  return value;
}

// Polls `condition` until it returns a truthy value, or throws once `timeoutMs` has passed.
export async function waitFor(condition, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(20);
  }
}

// Resolves to { port, workDir, log(), stop() } once conveyord has written a full line to its
// port file. stop() sends SIGTERM to this PID only (SIGKILL after 10 s) and removes the dir.
export async function startConveyord() {
  const binary = requiredEnv('CONVEYORD');
  const workDir = mkdtempSync(join(tmpdir(), 'conveyor-interop-node-'));
  const portFile = join(workDir, 'port');
  const logPath = join(workDir, 'conveyord.log');
  const logFd = openSync(logPath, 'w');
  const child = spawn(binary, ['--listen=127.0.0.1:0', `--port-file=${portFile}`,
    `--data-dir=${join(workDir, 'data')}`, '--drain-grace=1s'],
  { stdio: ['ignore', logFd, logFd], detached: true });  // detached: its own process group.
  closeSync(logFd);
  let exited = null;
  const exitPromise = new Promise((resolve) => child.on('exit', (code, signal) => {
    exited = { code, signal };
    resolve();
  }));
  const log = () => { try { return readFileSync(logPath, 'utf8'); } catch { return ''; } };

  const stop = async () => {
    if (exited === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => { if (exited === null) child.kill('SIGKILL'); }, 10_000);
      await exitPromise;
      clearTimeout(timer);
    }
    rmSync(workDir, { recursive: true, force: true });
  };

  try {
    const port = await waitFor(() => {
      if (exited !== null) {
        throw new Error(`conveyord exited (${JSON.stringify(exited)}) before serving:\n${log()}`);
      }
      let text;
      try { text = readFileSync(portFile, 'utf8'); } catch { return null; }
      return text.endsWith('\n') ? Number.parseInt(text, 10) : null;  // A full line only.
    }, STARTUP_TIMEOUT_MS, "conveyord's --port-file");
    return { port, workDir, log, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

// Runs `fn(server)` against a fresh conveyord; stops it afterwards, pass or fail, and adds
// its log to the error of a failing test.
export async function withConveyord(fn) {
  const server = await startConveyord();
  try {
    return await fn(server);
  } catch (e) {
    if (e instanceof Error) e.message += `\n--- conveyord log ---\n${server.log()}`;
    throw e;
  } finally {
    await server.stop();
  }
}
