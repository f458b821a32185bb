// One worker process of the harness: node worker.mjs SYSTEM PORT CONCURRENCY, forked by
// peers.mjs with an IPC channel. It runs SYSTEM's worker with a no-op handler and reports:
//   {type:'ready'}                          once it can take jobs;
//   {type:'progress', done:[i...], last}    every 50 ms: job indices completed since the last
//                                           report, and the time of the latest completion;
//   {type:'final', histogram}               after 'stop': submit->handler-start in ns, of the
//                                           jobs whose payload asks for recording.
// Payloads are "INDEX:RECORD:SENT_MS:" padded (see peers.mjs); times are
// performance.timeOrigin + performance.now() in ms, comparable across processes on one machine.

import { performance } from 'node:perf_hooks';
import { LogHistogram } from './lib/histogram.mjs';

const [systemName, portText, concurrencyText] = process.argv.slice(2);
const now = () => performance.timeOrigin + performance.now();

function fail(e) {
  process.send?.({ type: 'error', message: e?.stack ?? String(e) }, () => process.exit(1));
}
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

const system = (await import(`./systems/${systemName}.mjs`)).default;
const histogram = new LogHistogram();
let done = [];
let last = 0;

const hooks = {
  started(payload) {
    const t = now();
    const [, record, sent] = payload.split(':', 3);
    if (record === '1') histogram.record((t - Number(sent)) * 1e6);
  },
  completed(payload) {
    done.push(Number.parseInt(payload, 10));
    last = now();
  },
};

function flush() {
  if (done.length === 0) return;
  process.send({ type: 'progress', done, last });
  done = [];
}

const worker = await system.worker(Number(portText), Number(concurrencyText), hooks);
const timer = setInterval(flush, 50);
process.on('message', async (message) => {
  if (message.type !== 'stop') return;
  await worker.stop();
  clearInterval(timer);
  flush();
  process.send({ type: 'final', histogram: histogram.toJSON() }, () => process.disconnect());
});
process.send({ type: 'ready' });
