// Conveyor side by side with beanstalkd, NATS JetStream and BullMQ (issue 7, section 3): the same
// two workloads through the same Node harness against each, plus the native conveyor-bench, in
// one run and one table. bench/peers/run.sh installs the servers and packages and builds Conveyor
// first; run it rather than this file. `node peers.mjs --help` lists the flags.
//
// For each system and workload: a fresh server on 127.0.0.1 with its own data dir, K worker
// processes (worker.mjs) of concurrency C with a no-op handler, the producer in this process.
// - throughput: N jobs of 100-byte payloads into one queue, in batches of B with F in flight (a
//   batch is one call where the system has one, else B pipelined calls); jobs/s from the first
//   submit to the last completion; every job index must complete (losses and duplicates counted).
// - latency: open loop at R jobs/s, one job per call, a warm-up then D seconds recorded;
//   submit->handler-start percentiles from each job's send time carried in its payload.

import { execFileSync, fork, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import { LogHistogram } from './lib/histogram.mjs';
import { stopAll, waitFor } from './lib/servers.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const SYSTEMS = ['conveyor', 'beanstalkd', 'jetstream', 'bullmq'];
const PAYLOAD_BYTES = 100;
const now = () => performance.timeOrigin + performance.now();

const USAGE = `usage: node peers.mjs [flags]   (bench/peers/run.sh builds and installs, then runs this)
  --jobs N            throughput jobs (PEERS_JOBS, default 100000)
  --rate R            latency: jobs/s, open loop (PEERS_RATE, default 2000)
  --duration S        latency: seconds recorded after a warm-up of min(1, S/5) s (PEERS_DURATION, default 10)
  --workers K         worker processes (PEERS_WORKERS, default 4)
  --concurrency C     jobs each worker process runs at once (PEERS_CONCURRENCY, default 16)
  --batch B           throughput: jobs per submit batch (default 500)
  --batch-inflight F  throughput: batches in flight (default 4)
  --systems LIST      of ${SYSTEMS.join(',')} (PEERS_SYSTEMS, default all)
  --quick             10000 jobs and 3 s of latency unless given
  --conveyord PATH    conveyord binary (needed for conveyor)
  --conveyor-bench P  native conveyor-bench binary: its throughput and latency join the table (empty: skip)
  --json-out PATH     write every figure as JSON
  --timeout S         per workload (default 600)
  --keep              keep the servers' temp dirs (logs, data)`;

function parseOptions() {
  const { values } = parseArgs({
    options: {
      jobs: { type: 'string' }, rate: { type: 'string' }, duration: { type: 'string' },
      workers: { type: 'string' }, concurrency: { type: 'string' }, batch: { type: 'string' },
      'batch-inflight': { type: 'string' }, systems: { type: 'string' }, quick: { type: 'boolean' },
      conveyord: { type: 'string' }, 'conveyor-bench': { type: 'string' }, 'json-out': { type: 'string' },
      timeout: { type: 'string' }, keep: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const number = (flag, env, fallback, min) => {
    const text = values[flag] ?? process.env[env];
    if (text === undefined || text === '') return fallback;
    const n = Number(text);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${flag} ${text}: want a number >= ${min}`);
    return n;
  };
  const quick = Boolean(values.quick);
  const o = {
    jobs: Math.round(number('jobs', 'PEERS_JOBS', quick ? 10_000 : 100_000, 1)),
    rate: number('rate', 'PEERS_RATE', 2000, 1),
    duration: number('duration', 'PEERS_DURATION', quick ? 3 : 10, 0.1),
    workers: Math.round(number('workers', 'PEERS_WORKERS', 4, 1)),
    concurrency: Math.round(number('concurrency', 'PEERS_CONCURRENCY', 16, 1)),
    batch: Math.round(number('batch', '', 500, 1)),
    batchInflight: Math.round(number('batch-inflight', '', 4, 1)),
    timeoutMs: number('timeout', '', 600, 1) * 1000,
    systems: (values.systems ?? process.env.PEERS_SYSTEMS ?? SYSTEMS.join(',')).split(',').filter(Boolean),
    conveyord: values.conveyord ?? '',
    conveyorBench: values['conveyor-bench'] ?? '',
    jsonOut: values['json-out'] ?? '',
    keep: Boolean(values.keep),
  };
  o.warmup = Math.min(1, o.duration / 5);
  for (const s of o.systems) {
    if (!SYSTEMS.includes(s)) throw new Error(`--systems: unknown ${s}; want some of ${SYSTEMS.join(',')}`);
  }
  if (o.systems.includes('conveyor') && !o.conveyord) throw new Error('--conveyord PATH is needed to run conveyor');
  return o;
}

// "INDEX:RECORD:SENT_MS:" padded to PAYLOAD_BYTES.
function payload(index, record, sent) {
  return `${index}:${record ? 1 : 0}:${sent.toFixed(4)}:`.padEnd(PAYLOAD_BYTES, '.');
}

function versionOf(command) {
  try {
    return execFileSync(command[0], command.slice(1), { encoding: 'utf8' }).trim().split('\n')[0];
  } catch {
    return 'unknown';
  }
}

function packageVersion(name) {
  return JSON.parse(readFileSync(join(HERE, 'node_modules', name, 'package.json'), 'utf8')).version;
}

// Counts completions by job index across every worker process.
class Tracker {
  constructor(total) {
    this.marks = new Uint8Array(total);
    this.unique = 0;
    this.duplicates = 0;
    this.last = 0;
  }

  add({ done, last }) {
    for (const i of done) {
      if (i < 0 || i >= this.marks.length) continue;
      if (this.marks[i]++ === 0) this.unique += 1;
      else this.duplicates += 1;
    }
    this.last = Math.max(this.last, last);
  }
}

// K forked worker.mjs processes; resolves once every one is ready.
async function startFleet(systemName, port, options, tracker) {
  const children = [];
  const errors = [];
  const readies = [];
  for (let k = 0; k < options.workers; ++k) {
    const child = fork(join(HERE, 'worker.mjs'), [systemName, String(port), String(options.concurrency)],
      { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const state = { child, final: null, exited: false };
    state.exit = new Promise((resolve) => child.on('exit', () => { state.exited = true; resolve(); }));
    readies.push(new Promise((resolve, reject) => {
      child.on('message', (m) => {
        if (m.type === 'ready') resolve();
        else if (m.type === 'progress') tracker.add(m);
        else if (m.type === 'final') state.final = m;
        else if (m.type === 'error') { errors.push(m.message); reject(new Error(`worker: ${m.message}`)); }
      });
      state.exit.then(() => reject(new Error(`worker process ${child.pid} exited before it was ready`)));
    }));
    children.push(state);
  }
  const stop = async () => {
    for (const s of children) if (!s.exited && s.child.connected) s.child.send({ type: 'stop' });
    await Promise.race([Promise.all(children.map((s) => s.exit)), delay(20_000)]);
    for (const s of children) if (!s.exited) s.child.kill('SIGKILL');
    await Promise.all(children.map((s) => s.exit));
    const histogram = new LogHistogram();
    for (const s of children) if (s.final) histogram.add(s.final.histogram);
    return histogram;
  };
  try {
    await Promise.all(readies);
  } catch (e) {
    await stop();
    throw e;
  }
  return { stop, errors, pids: children.map((s) => s.child.pid) };
}

const TICKS_PER_SECOND = 100;  // USER_HZ on Linux.

// CPU seconds (user + system, all threads) used so far by process `pid`; 0 once it is gone.
function cpuSecondsOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;  // utime, stime.
  } catch {
    return 0;
  }
}

// CPU seconds so far of the server, of this process (the producer) and of the worker processes.
function sampleCpu(serverPid, workerPids) {
  const own = process.cpuUsage();
  return {
    server: cpuSecondsOf(serverPid),
    producer: (own.user + own.system) / 1e6,
    workers: workerPids.reduce((sum, pid) => sum + cpuSecondsOf(pid), 0),
  };
}

// Starts a fresh server, K workers and a producer; runs `body(producer, tracker, port)`; stops
// everything. Resolves to { result, histogram }.
async function withCluster(systemName, options, total, body) {
  const system = (await import(`./systems/${systemName}.mjs`)).default;
  const dir = mkdtempSync(join(tmpdir(), `conveyor-peers-${systemName}-`));
  const server = await system.start(dir, options);
  try {
    if (system.setup) await system.setup(server.port);
    const tracker = new Tracker(total);
    const fleet = await startFleet(systemName, server.port, options, tracker);
    let result;
    let histogram;
    try {
      const producer = await system.producer(server.port);
      try {
        result = await body(producer, tracker, server.port, system, () => sampleCpu(server.pid, fleet.pids));
      } finally {
        await producer.close();
      }
    } finally {
      histogram = await fleet.stop();
    }
    if (fleet.errors.length) throw new Error(`worker errors: ${fleet.errors[0]}`);
    return { result, histogram, tracker };
  } catch (e) {
    if (e instanceof Error) e.message += `\n--- ${server.name} log (${dir}) ---\n${server.log().slice(-4000)}`;
    throw e;
  } finally {
    await server.stop();
    if (!options.keep) rmSync(dir, { recursive: true, force: true });
  }
}

async function waitForCompletions(tracker, total, options, what) {
  await waitFor(() => tracker.unique >= total, options.timeoutMs,
    `${what}: all ${total} jobs to complete (${tracker.unique} so far)`).catch((e) => {
    throw new Error(`${e.message}; ${tracker.unique} completed, ${tracker.duplicates} duplicates`);
  });
}

async function runThroughput(systemName, options) {
  const n = options.jobs;
  const { result, tracker } = await withCluster(systemName, options, n, async (producer, tracker, port, system, cpu) => {
    const cpuBefore = cpu();
    const start = now();
    let next = 0;
    const lane = async () => {
      while (next < n) {
        const first = next;
        next = Math.min(n, next + options.batch);
        const batch = [];
        for (let i = first; i < next; ++i) batch.push(payload(i, false, now()));
        await producer.submit(batch);
      }
    };
    await Promise.all(Array.from({ length: options.batchInflight }, lane));
    const submitted = now();
    await waitForCompletions(tracker, n, options, 'throughput');
    let end = tracker.last;
    if (system.remaining) {
      // Completions the client cannot confirm (JetStream's ack): the run ends when the server
      // holds no job.
      await waitFor(async () => (await system.remaining(port)) === 0, options.timeoutMs, 'the server to hold no job');
      end = Math.max(end, now());
    }
    const cpuAfter = cpu();
    return {
      seconds: (end - start) / 1000,
      submitSeconds: (submitted - start) / 1000,
      cpu: Object.fromEntries(Object.keys(cpuAfter).map((k) => [k, cpuAfter[k] - cpuBefore[k]])),
    };
  });
  return {
    jobs: n,
    seconds: result.seconds,
    jobs_per_s: n / result.seconds,
    submit_jobs_per_s: n / result.submitSeconds,
    completed_unique: tracker.unique,
    duplicates: tracker.duplicates,
    lost: n - tracker.unique,
    // Machine load barely moves these, unlike the rates.
    server_cpu_us_per_job: (result.cpu.server / n) * 1e6,
    harness_cpu_us_per_job: ((result.cpu.producer + result.cpu.workers) / n) * 1e6,
    producer_cpu_us_per_job: (result.cpu.producer / n) * 1e6,
    workers_cpu_us_per_job: (result.cpu.workers / n) * 1e6,
  };
}

async function runLatency(systemName, options) {
  const warmupJobs = Math.round(options.rate * options.warmup);
  const total = warmupJobs + Math.round(options.rate * options.duration);
  const { result, histogram, tracker } = await withCluster(systemName, options, total, async (producer, tracker) => {
    const pending = [];
    let errors = 0;
    let firstError = '';
    let worstLag = 0;
    const start = now();
    const interval = 1000 / options.rate;
    for (let i = 0; i < total;) {
      const t = now();
      const due = start + i * interval;
      if (t < due) {
        await delay(due - t);
        continue;
      }
      // Every job now due goes out, each on its own call; none waits for an earlier reply.
      for (; i < total && start + i * interval <= now(); ++i) {
        const sent = now();
        worstLag = Math.max(worstLag, sent - (start + i * interval));
        pending.push(producer.submit([payload(i, i >= warmupJobs, sent)]).catch((e) => {
          if (errors++ === 0) firstError = e.message;
        }));
      }
    }
    await Promise.all(pending);
    if (errors) throw new Error(`latency: ${errors} submits failed; first: ${firstError}`);
    await waitForCompletions(tracker, total, options, 'latency');
    return { worstLagMs: worstLag };
  });
  const ms = (ns) => ns / 1e6;
  return {
    rate: options.rate,
    seconds: options.duration,
    warmup_seconds: options.warmup,
    jobs: total,
    recorded: histogram.count,
    p50_ms: ms(histogram.percentile(50)),
    p99_ms: ms(histogram.percentile(99)),
    p999_ms: ms(histogram.percentile(99.9)),
    max_ms: ms(histogram.max),
    worst_send_lag_ms: result.worstLagMs,
    duplicates: tracker.duplicates,
    lost: total - tracker.unique,
  };
}

// The native C++ benchmark's throughput and latency scenarios, with the same sizes.
async function runNative(options) {
  const dir = mkdtempSync(join(tmpdir(), 'conveyor-peers-native-'));
  const jsonPath = join(dir, 'native.json');
  const args = ['throughput', 'latency', '-n', String(options.jobs), '-k', String(options.workers),
    '-c', String(options.concurrency), '--rate', String(options.rate), '--duration', `${options.duration}s`,
    '--payload-bytes', String(PAYLOAD_BYTES), '--batch', String(options.batch),
    '--batch-inflight', String(options.batchInflight), '--json-out', jsonPath,
    // Like the peers' workers here, no prefetch beyond the concurrency; and
    // one latency run, as each peer gets.
    '--e2e-prefetch', '0', '--latency-runs', '1'];
  console.error(`peers: ${options.conveyorBench} ${args.join(' ')}`);
  const child = spawn(options.conveyorBench, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (d) => { stdout += d; });
  const code = await new Promise((resolve) => child.on('exit', (c, signal) => resolve(c ?? signal)));
  let json;
  try {
    json = JSON.parse(readFileSync(jsonPath, 'utf8'));
  } catch (e) {
    throw new Error(`conveyor-bench exited ${code} without JSON (${e.message}):\n${stdout}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const metric = (scenario, prefix) => json.results.find((r) => r.scenario === scenario && r.metric.startsWith(prefix))?.value;
  return {
    exit_code: code,
    table: stdout,
    throughput: {
      jobs: options.jobs,
      jobs_per_s: metric('throughput', 'end-to-end ('),
      lost: metric('throughput', 'end-to-end lost'),
      duplicates: metric('throughput', 'end-to-end duplicates'),
      server_cpu_us_per_job: metric('throughput', '  CPU: coordinator, per job'),
      harness_cpu_us_per_job: (metric('throughput', '  CPU: K workers, per job') ?? NaN)
        + (metric('throughput', '  CPU: load generator, per job') ?? NaN),
    },
    latency: {
      rate: options.rate,
      seconds: options.duration,
      p50_ms: metric('latency', 'submit->handler-start p50'),
      p99_ms: metric('latency', 'submit->handler-start p99'),
      p999_ms: metric('latency', 'submit->handler-start p99.9'),
      max_ms: metric('latency', 'submit->handler-start max'),
      worst_send_lag_ms: metric('latency', 'worst send lag'),
      lost: metric('latency', 'all lost'),
    },
    failures: json.failures ?? [],
  };
}

function uptime() {
  try { return execFileSync('uptime', { encoding: 'utf8' }).trim(); } catch { return `loadavg ${loadavg().join(' ')}`; }
}

function formatNumber(v, digits) {
  if (v === undefined || v === null || Number.isNaN(v)) return '-';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

// Ratios are given against both Conveyor rows: "node / native".
function table(rows) {
  const node = rows.find((r) => r.key === 'conveyor');
  const native = rows.find((r) => r.key === 'native');
  const ratio = (v, ref) => (v && ref ? `${formatNumber(v / ref, 2)}x` : '-');
  const ratios = (r, get) => [node, native].filter((ref) => ref && ref !== r && !ref.error)
    .map((ref) => ratio(get(r), get(ref))).join(' / ');
  const header = ['system', 'client', 'jobs/s', 'lost', 'p50 ms', 'p99 ms', 'p99.9 ms', 'send lag ms',
    'jobs/s ÷ Conveyor', 'p99 ÷ Conveyor', 'p99.9 ÷ Conveyor', 'server CPU µs/job', 'client CPU µs/job'];
  const lines = rows.map((r) => {
    const t = r.throughput ?? {};
    const l = r.latency ?? {};
    const conveyor = r.key === 'conveyor' || r.key === 'native';
    return [r.label, r.client, formatNumber(t.jobs_per_s, 0), t.lost === undefined ? '-' : String(t.lost + (l.lost ?? 0)),
      formatNumber(l.p50_ms, 2), formatNumber(l.p99_ms, 2), formatNumber(l.p999_ms, 2), formatNumber(l.worst_send_lag_ms, 0),
      conveyor ? '' : ratios(r, (x) => x.throughput?.jobs_per_s),
      conveyor ? '' : ratios(r, (x) => x.latency?.p99_ms),
      conveyor ? '' : ratios(r, (x) => x.latency?.p999_ms),
      formatNumber(t.server_cpu_us_per_job, 0), formatNumber(t.harness_cpu_us_per_job, 0)];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((cells) => cells[i].length)));
  const render = (cells) => `| ${cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const out = [render(header), `|${widths.map((w, i) => (i < 2 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`];
  for (const cells of lines) out.push(render(cells));
  const errors = rows.filter((r) => r.error).map((r) => `${r.label}: ${r.error.split('\n')[0]}`);
  return [...out, ...errors.map((e) => `FAILED ${e}`)].join('\n');
}

async function main() {
  const options = parseOptions();
  const started = new Date().toISOString();
  const uptimeBefore = uptime();
  console.error(`peers: ${uptimeBefore}`);
  const rows = [];
  const labels = {
    conveyor: () => 'Conveyor (Node harness)',
    beanstalkd: () => versionOf(['beanstalkd', '-v']),
    jetstream: () => `NATS JetStream ${versionOf(['nats-server', '--version']).replace(/^nats-server: /, '')}`,
    bullmq: () => `BullMQ ${packageVersion('bullmq')} on Redis ${versionOf(['redis-server', '--version']).match(/v=(\S+)/)?.[1] ?? '?'}`,
  };
  const clients = { conveyor: '@grpc/grpc-js', beanstalkd: 'fivebeans', jetstream: 'nats', bullmq: 'bullmq' };
  if (options.conveyorBench) {
    const row = { key: 'native', label: 'Conveyor (native C++ bench)', client: 'conveyor-bench (C++ gRPC)' };
    console.error('peers: native conveyor-bench throughput + latency...');
    try {
      Object.assign(row, await runNative(options));
    } catch (e) {
      row.error = e.message;
      console.error(`peers: native: ${e.message}`);
    }
    rows.push(row);
  }
  for (const key of options.systems) {
    const system = (await import(`./systems/${key}.mjs`)).default;
    const client = `${clients[key]} ${packageVersion(clients[key])}`;
    const row = { key, label: labels[key](), client, settings: system.settings };
    for (const workload of ['throughput', 'latency']) {
      const load = loadavg()[0];
      console.error(`peers: ${row.label}: ${workload} (load average ${load.toFixed(2)})...`);
      try {
        const t0 = now();
        row[workload] = workload === 'throughput' ? await runThroughput(key, options) : await runLatency(key, options);
        row[workload].load_average_at_start = load;
        console.error(`peers: ${row.label}: ${workload} took ${((now() - t0) / 1000).toFixed(1)} s: ${JSON.stringify(row[workload])}`);
      } catch (e) {
        row.error = `${workload}: ${e.message}`;
        console.error(`peers: ${row.label}: ${row.error}`);
      }
    }
    rows.push(row);
  }
  const uptimeAfter = uptime();
  const text = table(rows);
  console.log(`Throughput: ${options.jobs} jobs x ${PAYLOAD_BYTES} B, K=${options.workers} workers x C=${options.concurrency}, `
    + `batches of ${options.batch} x ${options.batchInflight} in flight. Latency: submit->handler-start, open loop `
    + `${options.rate} jobs/s for ${options.duration} s (after ${options.warmup} s warm-up), 1 job per call. `
    + 'Ratios: system ÷ Conveyor, as "through the same Node harness / native conveyor-bench" (jobs/s: >1 is faster; '
    + 'latency: >1 is slower). '
    + '"lost": jobs never completed in both workloads. "send lag": how far the open-loop producer fell behind its '
    + 'schedule at worst (latency is measured from the actual send; a large lag means the producer, not only the '
    + 'system, could not keep the rate). CPU per job (throughput run): the server process, and '
    + 'the clients (producer + worker processes; for the native row, conveyor-worker processes + load generator).');
  console.log(text);
  console.log(`before: ${uptimeBefore}\nafter:  ${uptimeAfter}`);
  if (options.jsonOut) {
    const json = {
      started, uptime_before: uptimeBefore, uptime_after: uptimeAfter,
      config: { ...options, payload_bytes: PAYLOAD_BYTES }, results: rows, table: text,
    };
    writeFileSync(options.jsonOut, `${JSON.stringify(json, null, 2)}\n`);
    console.error(`peers: JSON in ${options.jsonOut}`);
  }
  return rows.some((r) => r.error || (r.throughput?.lost ?? 0) > 0 || (r.latency?.lost ?? 0) > 0) ? 1 : 0;
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => { stopAll().finally(() => process.exit(130)); });
}
main().then((code) => { process.exitCode = code; }, async (e) => {
  console.error(`peers: ${e.message}`);
  await stopAll();
  process.exitCode = 2;
});
