// Drives a real conveyord from Node with @grpc/grpc-js, loading proto/ at run time with
// @grpc/proto-loader: submit, get, cancel, wait, and a worker on WorkerService.Connect.
//
//   CONVEYORD=build/server/conveyord CONVEYOR_PROTO_DIR=proto node --test interop.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { requiredEnv, waitFor, withConveyord } from './conveyord.mjs';

const RPC_TIMEOUT_MS = 10_000;

const definition = protoLoader.loadSync(
  ['conveyor/v1/job_service.proto', 'conveyor/v1/worker_service.proto',
    'conveyor/v1/admin_service.proto'],
  // Field names as in the .proto; 64-bit ids as strings; enums by name; oneof name set.
  { includeDirs: [requiredEnv('CONVEYOR_PROTO_DIR')], keepCase: true, longs: String,
    enums: String, defaults: true, oneofs: true });
const v1 = grpc.loadPackageDefinition(definition).conveyor.v1;

function deadline(ms = RPC_TIMEOUT_MS) {
  return new Date(Date.now() + ms);
}

// Promisifies one unary call; rejects with the grpc-js error (which has `.code`).
function unary(client, method, request, ms = RPC_TIMEOUT_MS) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: deadline(ms) }, (err, reply) => (err ? reject(err) : resolve(reply)));
  });
}

async function withClients(fn) {
  return withConveyord(async (server) => {
    const address = `127.0.0.1:${server.port}`;
    const jobs = new v1.JobService(address, grpc.credentials.createInsecure());
    const admin = new v1.AdminService(address, grpc.credentials.createInsecure());
    try {
      await new Promise((resolve, reject) => jobs.waitForReady(deadline(), (e) => (e ? reject(e) : resolve())));
      return await fn({ address, jobs, admin });
    } finally {
      jobs.close();
      admin.close();
    }
  });
}

async function submit(jobs, ...specs) {
  const reply = await unary(jobs, 'Submit', { jobs: specs });
  assert.equal(reply.results.length, specs.length);
  return reply.results.map((r) => r.id);
}

// A minimal worker on WorkerService.Connect: Hello, then one CompleteJob per Assignment with
// `handler(job)` as the result. Records what the coordinator sent.
class NodeWorker {
  constructor(address, name, queues, handler) {
    this.client = new v1.WorkerService(address, grpc.credentials.createInsecure());
    this.welcome = null;
    this.assignments = [];
    this.acks = [];
    this.status = null;
    // A call deadline so a protocol bug cannot hang the test.
    this.call = this.client.Connect({ deadline: deadline(60_000) });
    this.ended = new Promise((resolve) => this.call.on('status', (status) => {
      this.status = status;
      resolve(status);
    }));
    this.call.on('error', () => {});  // Reported through 'status'.
    this.call.on('data', (message) => {
      switch (message.kind) {
        case 'welcome':
          this.welcome = message.welcome;
          break;
        case 'assignment': {
          const a = message.assignment;
          this.assignments.push(a);
          this.call.write({ complete: { job_id: a.job.id, fencing_token: a.fencing_token, result: handler(a.job) } });
          break;
        }
        case 'ack':
          this.acks.push(message.ack);
          break;
        default:
          break;
      }
    });
    this.call.write({ hello: { name, queues, concurrency: 1 } });
  }

  // Half-closes the stream and waits for the coordinator to end it.
  async close() {
    this.call.end();
    const timer = setTimeout(() => this.call.cancel(), 10_000);
    await this.ended;
    clearTimeout(timer);
    this.client.close();
  }
}

test('submit with payload_text, then get', () => withClients(async ({ jobs }) => {
  const ids = await submit(jobs,
    { queue: 'node', type: 'echo', payload_text: 'héllo', labels: { lang: 'node' } },
    { queue: 'node', type: 'echo', payload: Buffer.from([0, 1]), priority: 5 });
  assert.ok(BigInt(ids[1]) > BigInt(ids[0]), 'ids increase in submission order');

  const job = await unary(jobs, 'GetJob', { id: ids[0] });
  assert.equal(job.id, ids[0]);
  assert.equal(job.queue, 'node');
  assert.equal(job.type, 'echo');
  assert.equal(job.payload.toString('utf8'), 'héllo');
  assert.deepEqual({ ...job.labels }, { lang: 'node' });
  assert.equal(job.state, 'JOB_STATE_QUEUED');
  assert.equal(job.attempts, 0);

  const second = await unary(jobs, 'GetJob', { id: ids[1] });
  assert.deepEqual([...second.payload], [0, 1]);
  assert.equal(second.priority, 5);
}));

test('get of an unknown job is NOT_FOUND', () => withClients(async ({ jobs }) => {
  await assert.rejects(unary(jobs, 'GetJob', { id: '987654' }), { code: grpc.status.NOT_FOUND });
}));

test('cancel a queued job', () => withClients(async ({ jobs }) => {
  const [id] = await submit(jobs, { queue: 'node', type: 'echo', payload_text: 'x' });
  const cancelled = await unary(jobs, 'CancelJob', { id, reason: 'not needed' });
  assert.equal(cancelled.state, 'JOB_STATE_CANCELLED');
  assert.equal(cancelled.cancel_reason, 'not needed');
  assert.equal((await unary(jobs, 'GetJob', { id })).state, 'JOB_STATE_CANCELLED');
  // Terminal: WaitJob answers at once; a second cancel is refused.
  assert.equal((await unary(jobs, 'WaitJob', { id })).state, 'JOB_STATE_CANCELLED');
  await assert.rejects(unary(jobs, 'CancelJob', { id }), { code: grpc.status.FAILED_PRECONDITION });
}));

test('wait on a queued job with a short deadline is DEADLINE_EXCEEDED', () => withClients(async ({ jobs }) => {
  const [id] = await submit(jobs, { queue: 'node', type: 'echo', payload_text: 'x' });
  await assert.rejects(unary(jobs, 'WaitJob', { id }, 300), { code: grpc.status.DEADLINE_EXCEEDED });
  assert.equal((await unary(jobs, 'GetJob', { id })).state, 'JOB_STATE_QUEUED', 'job untouched');
}));

test('admin: queue counts and a proto3 optional setting', () => withClients(async ({ jobs, admin }) => {
  await submit(jobs, { queue: 'nodeq', type: 'echo' }, { queue: 'nodeq', type: 'echo' });
  const info = await unary(admin, 'GetQueue', { name: 'nodeq' });
  assert.equal(info.queued, '2');
  const updated = await unary(admin, 'UpdateQueue', { name: 'nodeq', settings: { max_attempts: 5 } });
  assert.equal(updated.settings.max_attempts, 5);
}));

test('a Node worker completes jobs', () => withClients(async ({ address, jobs }) => {
  // One job waiting before the worker connects, one submitted while it is idle.
  const [before] = await submit(jobs, { queue: 'nodew', type: 'upper', payload_text: 'hello' });
  const waitBefore = unary(jobs, 'WaitJob', { id: before }, 30_000);

  const worker = new NodeWorker(address, 'node-worker', ['nodew'],
    (job) => Buffer.from(job.payload.toString('utf8').toUpperCase()));
  try {
    let done = await waitBefore;
    assert.equal(done.state, 'JOB_STATE_SUCCEEDED');
    assert.equal(done.result.toString('utf8'), 'HELLO');
    assert.equal(done.attempts, 1);
    assert.equal(done.history.length, 1);
    assert.equal(done.history[0].outcome, 'OUTCOME_SUCCEEDED');
    assert.equal(done.history[0].worker_name, 'node-worker');

    const [after] = await submit(jobs, { queue: 'nodew', type: 'upper', payload_text: 'again' });
    done = await unary(jobs, 'WaitJob', { id: after }, 30_000);
    assert.equal(done.state, 'JOB_STATE_SUCCEEDED');
    assert.equal(done.result.toString('utf8'), 'AGAIN');

    // The protocol as the worker saw it: Welcome, an Assignment per job, an accepted ack each.
    assert.ok(worker.welcome, 'Welcome received');
    assert.ok(BigInt(worker.welcome.worker_id) > 0n);
    assert.equal(worker.welcome.concurrency, 1);
    assert.deepEqual(worker.assignments.map((a) => a.job.id), [before, after]);
    assert.equal(worker.assignments[0].attempt, 1);
    assert.equal(worker.assignments[0].job.payload.toString('utf8'), 'hello');
    for (const id of [before, after]) {
      const acks = await waitFor(() => {
        const found = worker.acks.filter((ack) => ack.job_id === id);
        return found.length ? found : null;
      }, RPC_TIMEOUT_MS, `ack of job ${id}`);
      assert.equal(acks.length, 1);
      assert.ok(acks[0].accepted, acks[0].reason);
    }
  } finally {
    await worker.close();
  }
  assert.equal(worker.status.code, grpc.status.OK, worker.status.details);
}));
