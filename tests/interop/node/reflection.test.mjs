// Uses conveyord through server reflection only (no .proto files): `buf curl` from npm's
// @bufbuild/buf, the grpcurl equivalent, lists the services and submits a job as JSON.
//
//   CONVEYORD=build/server/conveyord node --test reflection.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { withConveyord } from './conveyord.mjs';

const BUF = fileURLToPath(new URL('./node_modules/.bin/buf', import.meta.url));

// Runs `buf curl --protocol grpc ...args`; resolves to { code, stdout, stderr }. buf exits with
// the gRPC status code shifted left by 3 when the RPC fails, and < 8 for its own errors.
function bufCurl(server, args) {
  return new Promise((resolve) => {
    execFile(BUF, ['curl', '--protocol', 'grpc', ...args],
      { timeout: 30_000, env: { ...process.env, BUF_CACHE_DIR: `${server.workDir}/buf-cache` } },
      (err, stdout, stderr) => resolve({ code: err ? (err.code ?? -1) : 0, stdout, stderr }));
  });
}

function call(server, method, body, extra = []) {
  return bufCurl(server, [...extra, '-d', JSON.stringify(body),
    `http://127.0.0.1:${server.port}/conveyor.v1.${method}`]);
}

function ok(result) {
  assert.equal(result.code, 0, `buf curl failed (${result.code}): ${result.stderr}`);
  return JSON.parse(result.stdout);
}

test('reflection lists the services', () => withConveyord(async (server) => {
  const listed = await bufCurl(server, ['--list-services', `http://127.0.0.1:${server.port}`]);
  assert.equal(listed.code, 0, listed.stderr);
  const services = listed.stdout.trim().split('\n');
  for (const name of ['conveyor.v1.JobService', 'conveyor.v1.WorkerService', 'conveyor.v1.AdminService']) {
    assert.ok(services.includes(name), `${name} in ${services}`);
  }
  const listedMethods = await bufCurl(server, ['--list-methods', `http://127.0.0.1:${server.port}`]);
  assert.equal(listedMethods.code, 0, listedMethods.stderr);
  const methods = listedMethods.stdout;
  for (const name of ['conveyor.v1.JobService/Submit', 'conveyor.v1.JobService/GetJob',
    'conveyor.v1.WorkerService/Connect', 'conveyor.v1.AdminService/ListQueues',
    'grpc.health.v1.Health/Check']) {
    assert.ok(methods.includes(name), `${name} in\n${methods}`);
  }
}));

test('submit a job as JSON, get it back, wait and cancel', () => withConveyord(async (server) => {
  const submitted = ok(await call(server, 'JobService/Submit',
    { jobs: [{ queue: 'q', type: 't', payloadText: 'hello' }] }));
  assert.equal(submitted.results.length, 1);
  const id = submitted.results[0].id;  // uint64 is a JSON string.
  assert.match(id, /^[1-9][0-9]*$/);

  const job = ok(await call(server, 'JobService/GetJob', { id }));
  assert.equal(job.id, id);
  assert.equal(job.queue, 'q');
  assert.equal(job.type, 't');
  assert.equal(Buffer.from(job.payload, 'base64').toString('utf8'), 'hello');
  assert.equal(job.state, 'JOB_STATE_QUEUED');

  // A queued job outlives a 2 s wait (buf's --timeout covers the whole command): DEADLINE_EXCEEDED (4) << 3.
  const waited = await call(server, 'JobService/WaitJob', { id }, ['--timeout', '2s']);
  assert.equal(waited.code, 4 << 3, waited.stderr + waited.stdout);

  const cancelled = ok(await call(server, 'JobService/CancelJob', { id, reason: 'by buf' }));
  assert.equal(cancelled.state, 'JOB_STATE_CANCELLED');
  assert.equal(cancelled.cancelReason, 'by buf');
  assert.equal(ok(await call(server, 'JobService/WaitJob', { id })).state, 'JOB_STATE_CANCELLED');

  const missing = await call(server, 'JobService/GetJob', { id: '987654' });
  assert.equal(missing.code, 5 << 3, `NOT_FOUND expected: ${missing.stderr}${missing.stdout}`);
}));
