// NATS JetStream through `nats` (nats.js): a file-storage stream with work-queue retention (a
// message is removed once acked) and one durable pull consumer with explicit acks that every
// worker process shares. A batch is that many js.publish calls in flight, each awaiting its
// PubAck (stored). A worker process consumes with `concurrency` messages pulled at a time and
// acks each after its handler; ack() is not confirmed to the client, so the harness counts a job
// complete when the ack is sent and the run complete only when the stream is empty.

import nats from 'nats';
import { startNats } from '../lib/servers.mjs';

const { connect, AckPolicy, RetentionPolicy, StorageType } = nats;
const STREAM = 'BENCH';
const SUBJECT = 'bench.jobs';
const CONSUMER = 'workers';

const open = (port) => connect({ servers: `127.0.0.1:${port}`, noEcho: true });

export default {
  name: 'NATS JetStream',
  client: 'nats',
  server: ['nats-server', '--version'],
  settings: 'file storage, work-queue retention, durable pull consumer, explicit acks (default sync)',
  start: (dir) => startNats(dir),

  async setup(port) {
    const nc = await open(port);
    try {
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({
        name: STREAM, subjects: [SUBJECT], retention: RetentionPolicy.Workqueue, storage: StorageType.File,
      });
      await jsm.consumers.add(STREAM, { durable_name: CONSUMER, ack_policy: AckPolicy.Explicit, ack_wait: 30e9 });
    } finally {
      await nc.close();
    }
  },

  // Messages still in the stream: published and not yet acked.
  async remaining(port) {
    const nc = await open(port);
    try {
      const jsm = await nc.jetstreamManager();
      return (await jsm.streams.info(STREAM)).state.messages;
    } finally {
      await nc.close();
    }
  },

  async producer(port) {
    const nc = await open(port);
    // As long a PubAck wait as the other systems' submit deadlines (the default is 5 s).
    const js = nc.jetstream({ timeout: 60_000 });
    return {
      submit: (payloads) => Promise.all(payloads.map((p) => js.publish(SUBJECT, Buffer.from(p, 'latin1'), { timeout: 60_000 }))),
      close: () => nc.close(),
    };
  },

  async worker(port, concurrency, hooks) {
    const nc = await open(port);
    const consumer = await nc.jetstream().consumers.get(STREAM, CONSUMER);
    const messages = await consumer.consume({ max_messages: concurrency });
    const loop = (async () => {
      for await (const m of messages) {
        const payload = Buffer.from(m.data).toString('latin1');
        hooks.started(payload);
        m.ack();
        hooks.completed(payload);
      }
    })();
    return {
      async stop() {
        messages.stop();
        await loop;
        await nc.close();
      },
    };
  },
};
