// beanstalkd (binlog on) through fivebeans, the most used Node client. beanstalkd has no batch
// put: a batch is that many puts pipelined on the producer's one connection. A worker process
// runs `concurrency` connections, each reserve -> handler -> delete, and a job is complete when
// DELETED comes back.

import fivebeans from 'fivebeans';
import { startBeanstalkd } from '../lib/servers.mjs';

const TUBE = 'bench';

function connect(port) {
  const client = new fivebeans.client('127.0.0.1', port);
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve(client));
    client.once('error', reject);
    client.connect();
  });
}

// Promisifies one fivebeans command: resolves to the reply's arguments.
function call(client, command, ...args) {
  return new Promise((resolve, reject) => {
    client[command](...args, (err, ...reply) => (err ? reject(new Error(`beanstalkd ${command}: ${err}`)) : resolve(reply)));
  });
}

export default {
  name: 'beanstalkd',
  client: 'fivebeans',
  server: ['beanstalkd', '-v'],
  settings: 'binlog on (-b), fsync at most every 50 ms (default -f)',
  start: (dir) => startBeanstalkd(dir),

  async producer(port) {
    const client = await connect(port);
    await call(client, 'use', TUBE);
    return {
      // priority 0, no delay, time-to-run 60 s.
      submit: (payloads) => Promise.all(payloads.map((p) => call(client, 'put', 0, 0, 60, Buffer.from(p, 'latin1')))),
      close: async () => client.end(),
    };
  },

  async worker(port, concurrency, hooks) {
    let stopping = false;
    const clients = [];
    const loops = [];
    for (let i = 0; i < concurrency; ++i) {
      const client = await connect(port);
      client.on('error', () => {});  // A closed connection while stopping.
      clients.push(client);
      await call(client, 'watch', TUBE);
      await call(client, 'ignore', 'default');
      loops.push((async () => {
        while (!stopping) {
          // With a timeout so that stop() ends the loop; TIMED_OUT rejects.
          let reply;
          try { reply = await call(client, 'reserve_with_timeout', 1); } catch { continue; }
          const [id, body] = reply;
          const payload = body.toString('latin1');
          hooks.started(payload);
          await call(client, 'destroy', id);
          hooks.completed(payload);
        }
      })());
    }
    return {
      async stop() {
        stopping = true;
        await Promise.allSettled(loops);
        for (const c of clients) c.end();
      },
    };
  },
};
