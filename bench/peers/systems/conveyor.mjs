// Conveyor through the same Node harness: @grpc/grpc-js with proto/conveyor/v1 loaded by
// @grpc/proto-loader. A batch is one JobService.Submit carrying every job; a single submit is a
// Submit of one. A worker process is one WorkerService.Connect stream with `concurrency` (one
// message per Assignment, Complete and ResultAck: the single-message protocol); a job is complete
// when its ResultAck comes back accepted (the result is durably recorded).

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { startConveyord } from '../lib/servers.mjs';

const QUEUE = 'bench';
const PROTO_DIR = process.env.CONVEYOR_PROTO_DIR
  ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'proto');

let v1;
function api() {
  if (!v1) {
    const definition = protoLoader.loadSync(
      ['conveyor/v1/job_service.proto', 'conveyor/v1/worker_service.proto'],
      { includeDirs: [PROTO_DIR], keepCase: true, longs: String, enums: String, defaults: false, oneofs: true });
    v1 = grpc.loadPackageDefinition(definition).conveyor.v1;
  }
  return v1;
}

function durationMs(d) {
  return d ? Number(d.seconds ?? 0) * 1000 + (d.nanos ?? 0) / 1e6 : 0;
}

function ready(client) {
  return new Promise((resolve, reject) => client.waitForReady(new Date(Date.now() + 10_000), (e) => (e ? reject(e) : resolve())));
}

export default {
  name: 'Conveyor',
  client: '@grpc/grpc-js',
  server: null,  // Built from this tree.
  settings: 'default durable store (SQLite WAL, synchronous=NORMAL, group commit)',
  start: (dir, options) => startConveyord(dir, options.conveyord),

  async producer(port) {
    const jobs = new (api().JobService)(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    await ready(jobs);
    const submit = (payloads) => new Promise((resolve, reject) => {
      const request = { jobs: payloads.map((p) => ({ queue: QUEUE, type: 'bench', payload: Buffer.from(p, 'latin1') })) };
      jobs.Submit(request, { deadline: new Date(Date.now() + 60_000) }, (err, reply) => {
        if (err) reject(err);
        else if (reply.results.length !== payloads.length) reject(new Error(`Submit: ${reply.results.length} results for ${payloads.length} jobs`));
        else resolve();
      });
    });
    return { submit, close: async () => jobs.close() };
  },

  async worker(port, concurrency, hooks) {
    const client = new (api().WorkerService)(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const call = client.Connect();
    const held = new Map();  // job id -> payload, from Assignment to ResultAck.
    let heartbeat = null;
    const ended = new Promise((resolve) => call.on('status', resolve));
    call.on('error', () => {});  // Reported through 'status'.
    const welcomed = new Promise((resolve, reject) => {
      call.on('data', (message) => {
        switch (message.kind) {
          case 'welcome':
            heartbeat = setInterval(() => call.write({ heartbeat: {} }),
              Math.max(100, durationMs(message.welcome.heartbeat_interval)));
            resolve();
            break;
          case 'assignment': {
            const a = message.assignment;
            const payload = a.job.payload.toString('latin1');
            held.set(a.job.id, payload);
            hooks.started(payload);
            call.write({ complete: { job_id: a.job.id, fencing_token: a.fencing_token } });
            break;
          }
          case 'ack': {
            const payload = held.get(message.ack.job_id);
            held.delete(message.ack.job_id);
            if (message.ack.accepted && payload !== undefined) hooks.completed(payload);
            break;
          }
          default:
            break;
        }
      });
      ended.then((status) => reject(new Error(`Connect ended before Welcome: ${status.details}`)));
    });
    call.write({ hello: { name: `peers-${process.pid}`, queues: [QUEUE], concurrency } });
    await welcomed;
    return {
      async stop() {
        clearInterval(heartbeat);
        call.end();
        const timer = setTimeout(() => call.cancel(), 10_000);
        await ended;
        clearTimeout(timer);
        client.close();
      },
    };
  },
};
