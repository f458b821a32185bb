// BullMQ on Redis (append-only file, fsync every second). A batch is one Queue.addBulk; a single
// submit is Queue.add. A worker process is one BullMQ Worker with `concurrency`; a job is
// complete when the Worker emits `completed` (moved to completed in Redis). Jobs keep BullMQ's
// defaults (completed jobs are kept, as Conveyor keeps ended jobs).

import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { startRedis } from '../lib/servers.mjs';

const QUEUE = 'bench';
// BullMQ under ESM takes a constructed ioredis client; it duplicates it for blocking calls.
const connection = (port) => new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: null });

export default {
  name: 'BullMQ',
  client: 'bullmq',
  server: ['redis-server', '--version'],
  settings: 'Redis appendonly yes, appendfsync everysec, no RDB',
  start: (dir) => startRedis(dir),

  async producer(port) {
    const redis = connection(port);
    const queue = new Queue(QUEUE, { connection: redis });
    await queue.waitUntilReady();
    return {
      submit: (payloads) => (payloads.length === 1
        ? queue.add('job', { p: payloads[0] })
        : queue.addBulk(payloads.map((p) => ({ name: 'job', data: { p } })))),
      close: async () => { await queue.close(); redis.disconnect(); },
    };
  },

  async worker(port, concurrency, hooks) {
    const redis = connection(port);
    const worker = new Worker(QUEUE, async (job) => { hooks.started(job.data.p); }, { connection: redis, concurrency });
    worker.on('completed', (job) => hooks.completed(job.data.p));
    worker.on('error', () => {});  // Reported as missing completions.
    await worker.waitUntilReady();
    return { stop: async () => { await worker.close(); redis.disconnect(); } };
  },
};
