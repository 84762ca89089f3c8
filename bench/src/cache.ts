/**
 * Benchmark of the built-in binary cache (not a test): prints one table.
 *
 *   - narinfo GET requests/s and NAR download MB/s on loopback, side by side
 *     with nginx (Debian package) serving the same paths as static files in
 *     Nix's file:// layout, and for narinfos a bare node:http server serving
 *     the same bytes from memory (a Node server's floor): BENCH_ROUNDS turns
 *     each, after one uncounted warm-up second, with the serving processes'
 *     CPU per request (less sensitive to other load on the machine);
 *   - `drover push` vs `nix copy --to` for BENCH_PATHS (200) small paths, on
 *     loopback and through a TCP proxy adding BENCH_RTT_MS (20) of round trip,
 *     with the request counts the server saw;
 *   - with BENCH_HUGE_MB set: the server's RSS while `nix copy` uploads one
 *     incompressible path of that size (compression=none) and while it is
 *     downloaded again with a streaming GET (issue 7: memory stays flat).
 *
 * Env: BENCH_PHASES (serve,push,huge), BENCH_PATHS (200), BENCH_BIG_MB (200),
 * BENCH_SECONDS (5, per load run), BENCH_ROUNDS (3), BENCH_CONCURRENCY (64),
 * BENCH_RTT_MS (20), BENCH_HUGE_MB (unset: no huge phase), BENCH_NGINX (the
 * nginx binary; missing: the command says how to install it),
 * BENCH_SERVER_NODE_FLAGS (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
 * Run: `node bench/dist/src/cache.js`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rm, statfs, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runOk, startTcpProxy, tempDir } from '@drover/test-support';
import { cpuMs, cpuMsSum, DROVER, processTree, readStatusBytes, resetPeakRss, sampleRss } from './proc.js';
import { renderTable, type Row } from './table.js';

const N = Number(process.env['BENCH_PATHS'] ?? 200);
const BIG_MB = Number(process.env['BENCH_BIG_MB'] ?? 200);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const ROUNDS = Math.max(1, Number(process.env['BENCH_ROUNDS'] ?? 3));
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 64);
const RTT = Number(process.env['BENCH_RTT_MS'] ?? 20);
const PUSH_TIMEOUT_S = Number(process.env['BENCH_PUSH_TIMEOUT'] ?? 120);
const HUGE_MB = Number(process.env['BENCH_HUGE_MB'] ?? 0);
const PHASES = new Set((process.env['BENCH_PHASES'] ?? 'serve,push,huge').split(',').map((p) => p.trim()));
const MB = 1024 * 1024;

/** `node -e` script: serves DIR's *.narinfo from memory on 127.0.0.1:PORT, as nginx would (type, length, cache-control). */
const BARE_NODE_SERVER = `
const { createServer } = require('node:http');
const { readdirSync, readFileSync } = require('node:fs');
const [dir, port] = process.argv.slice(1);
const files = new Map(readdirSync(dir).filter((f) => f.endsWith('.narinfo')).map((f) => ['/' + f, readFileSync(dir + '/' + f)]));
createServer((req, res) => {
  const body = files.get(req.url);
  if (!body) { res.writeHead(404).end(); return; }
  res.writeHead(200, { 'content-type': 'text/x-nix-narinfo', 'cache-control': 'public, max-age=300', 'content-length': body.length });
  res.end(body);
}).listen(Number(port), '127.0.0.1');
`;

/** The nginx binary the serve phase compares against (BENCH_NGINX, else `nginx` on PATH or in /usr/sbin). */
const NGINX = process.env['BENCH_NGINX'] ?? (spawnSync('nginx', ['-v']).error ? '/usr/sbin/nginx' : 'nginx');

/** Why the serve phase cannot run, when nginx is missing: what to install (or how to skip it). */
function nginxMissing(): string | null {
  if (!spawnSync(NGINX, ['-v']).error) return null;
  return [
    `nginx (${NGINX}) is not installed; the serve phase measures drover next to it.`,
    'Install it: `apt-get install -y nginx-light` (Debian/Ubuntu; `nginx` works too), or `nix profile install nixpkgs#nginx`,',
    'or point BENCH_NGINX at a binary, or skip the phase: BENCH_PHASES=push,huge.',
  ].join('\n');
}

function sh(cmd: string, env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync('bash', ['-c', cmd], { env: { ...process.env, ...env }, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr.toString()}`);
  return r.stdout.toString().trim();
}

function timed(cmd: string, env: NodeJS.ProcessEnv = {}): number {
  const t = process.hrtime.bigint();
  sh(cmd, env);
  return Number(process.hrtime.bigint() - t) / 1e9;
}

/** Small new store paths (no references), unique to this run. */
function makePaths(dir: string, count: number, tag: string): string[] {
  return sh(`cd ${dir} && mkdir -p ${tag} && for i in $(seq 1 ${count}); do head -c 4096 /dev/urandom > ${tag}/p$i; done && nix-store --add ${tag}/p*`).split(
    '\n',
  );
}

/** GETs `paths` round-robin over keep-alive connections for SECONDS; requests/s. */
async function load(base: string, paths: readonly string[], auth?: string, seconds = SECONDS): Promise<{ rate: number; count: number; errors: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const end = Date.now() + seconds * 1000;
  let done = 0;
  let errors = 0;
  let i = 0;
  const one = () =>
    new Promise<void>((ok) => {
      const req = request(`${base}/${paths[i++ % paths.length]}`, { agent, headers: auth ? { authorization: auth } : {} }, (res) => {
        if (res.statusCode !== 200) errors++;
        res.resume();
        res.on('end', () => ok());
      });
      req.on('error', () => {
        errors++;
        ok();
      });
      req.end();
    });
  const worker = async () => {
    while (Date.now() < end) {
      await one();
      done++;
    }
  };
  const t = Date.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  agent.destroy();
  return { rate: done / ((Date.now() - t) / 1000), count: done, errors };
}

/** `times` downloads of `url`, 4 at a time; MB/s and MB. */
async function download(url: string, times: number): Promise<{ rate: number; count: number; errors: number }> {
  const t = Date.now();
  let bytes = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let k = 0; k < times / 4; k++) {
        const res = await fetch(url);
        for await (const chunk of res.body!) bytes += (chunk as Uint8Array).length;
      }
    }),
  );
  return { rate: bytes / MB / ((Date.now() - t) / 1000), count: bytes / MB, errors: 0 };
}

async function requestCount(server: string, admin: string): Promise<number> {
  const text = await (await fetch(`${server}/metrics`, { headers: { authorization: `Bearer ${admin}` } })).text();
  return [...text.matchAll(/^drover_http_request_duration_seconds_count\{[^}]*route="\/(?:cache|api\/v1\/caches)[^"]*"[^}]*\} (\d+)/gm)].reduce(
    (a, m) => a + Number(m[1]),
    0,
  );
}

/** What every phase shares: the temporary directory, the server and its tokens. */
interface Bench {
  readonly dir: string;
  readonly port: number;
  readonly url: string;
  readonly netrc: string;
  readonly admin: string;
  readonly push: string;
  readonly serverPid: number;
  /** Processes to stop at the end. */
  readonly procs: ChildProcess[];
}

/** Free bytes on the file system holding `path`. */
async function freeBytes(path: string): Promise<number> {
  const s = await statfs(path);
  return s.bavail * s.bsize;
}

/**
 * One incompressible path of HUGE_MB: uploaded with `nix copy` (compression
 * none), then downloaded with a streaming GET, sampling the server's RSS
 * every 100 ms (and its VmHWM, reset before each phase). The file, the store
 * path and the server's copy are deleted afterwards.
 */
async function hugePhase({ dir, url, netrc, admin, serverPid }: Bench): Promise<Row[]> {
  // The file, its store copy, the server's copy and (Nix 2.8 holds the NAR in memory) no more.
  const need = 3 * HUGE_MB * MB + 1024 * MB;
  for (const where of [dir, '/nix/store']) {
    const free = await freeBytes(where);
    if (free < need) throw new Error(`BENCH_HUGE_MB=${HUGE_MB} needs ${(need / MB).toFixed(0)} MB free at ${where}, only ${(free / MB).toFixed(0)} MB are`);
  }
  sh(`${process.execPath} ${DROVER} cache create huge --public --server ${url}`, { DROVER_ADMIN_TOKEN: admin });
  const file = join(dir, 'huge');
  sh(`dd if=/dev/urandom of=${file} bs=1M count=${HUGE_MB} status=none`);
  let path: string | undefined;
  try {
    path = sh(`nix-store --add ${file}`);
    await rm(file, { force: true });
    const mb = HUGE_MB;
    const before = readStatusBytes(serverPid, 'VmRSS');

    resetPeakRss(serverPid);
    let sampler = sampleRss(serverPid);
    let cpu = cpuMs(serverPid);
    let t = process.hrtime.bigint();
    await runOk('nix', ['copy', '--to', `${url}/cache/huge?compression=none`, '--option', 'netrc-file', netrc, path], {
      env: { XDG_CACHE_HOME: join(dir, 'xdg-huge') },
      timeoutMs: 3_600_000,
    });
    const upSecs = Number(process.hrtime.bigint() - t) / 1e9;
    const up = sampler.stop();
    const upCpu = (cpuMs(serverPid) - cpu) / 1000;

    const narinfo = await (await fetch(`${url}/cache/huge/${path.slice(11, 43)}.narinfo`)).text();
    const narUrl = /^URL: (.*)$/m.exec(narinfo)?.[1];
    if (!narUrl) throw new Error(`no URL in the narinfo of ${path}:\n${narinfo}`);
    const afterUpload = readStatusBytes(serverPid, 'VmRSS');
    resetPeakRss(serverPid);
    sampler = sampleRss(serverPid);
    cpu = cpuMs(serverPid);
    t = process.hrtime.bigint();
    const res = await fetch(`${url}/cache/huge/${narUrl}`);
    let bytes = 0;
    for await (const chunk of res.body!) bytes += (chunk as Uint8Array).length;
    const downSecs = Number(process.hrtime.bigint() - t) / 1e9;
    const down = sampler.stop();
    const downCpu = (cpuMs(serverPid) - cpu) / 1000;
    if (bytes < HUGE_MB * MB) throw new Error(`downloaded ${bytes} bytes of a ${HUGE_MB} MB NAR (status ${res.status})`);

    const m = (b: number) => (b / MB).toFixed(0);
    const note = (peak: number, samples: number) => `${peak >= before ? '+' : '−'}${m(Math.abs(peak - before))} MB vs before; ${samples} samples + VmHWM`;
    return [
      { metric: `server RSS before, ${mb} MB NAR`, value: m(before), unit: 'MB', note: 'VmRSS, the other phases already ran if selected' },
      { metric: `server peak RSS, nix copy --to ${mb} MB`, value: m(up.peak), unit: 'MB', note: note(up.peak, up.samples) },
      {
        metric: `upload ${mb} MB (nix copy, compression=none)`,
        value: (mb / upSecs).toFixed(0),
        unit: 'MB/s',
        note: `${upSecs.toFixed(1)} s of the whole nix copy; server CPU ${upCpu.toFixed(1)} s; RSS after ${m(afterUpload)} MB`,
      },
      { metric: `server peak RSS, GET ${mb} MB NAR`, value: m(down.peak), unit: 'MB', note: note(down.peak, down.samples) },
      {
        metric: `download ${mb} MB (one streaming GET)`,
        value: (bytes / MB / downSecs).toFixed(0),
        unit: 'MB/s',
        note: `${downSecs.toFixed(1)} s; server CPU ${downCpu.toFixed(1)} s`,
      },
    ];
  } finally {
    await rm(file, { force: true });
    if (path) sh(`nix-store --delete ${path} >/dev/null 2>&1 || true`);
  }
}

/** narinfo GETs and NAR downloads, drover vs nginx serving the same files. */
async function servePhase({ dir, port, url, netrc, admin, procs, serverPid }: Bench): Promise<Row[]> {
  sh(`${process.execPath} ${DROVER} cache create serve --public --server ${url}`, { DROVER_ADMIN_TOKEN: admin });
  const xdg = { XDG_CACHE_HOME: join(dir, 'xdg') };
  // The same paths in drover and, via nix copy --to file://, for nginx.
  const served = makePaths(dir, N, 'served');
  sh(`dd if=/dev/urandom of=${dir}/big bs=1M count=${BIG_MB} status=none`);
  const big = sh(`nix-store --add ${dir}/big`);
  sh(`nix copy --to '${url}/cache/serve?compression=zstd' --option netrc-file ${netrc} ${served.join(' ')} ${big}`, xdg);
  sh(`nix copy --to 'file://${dir}/static?compression=zstd' ${served.join(' ')} ${big}`);
  const nginxPort = port + 1;
  await writeFile(
    join(dir, 'nginx.conf'),
    `user root; worker_processes 2; pid ${dir}/nginx.pid; error_log ${dir}/nginx.err; daemon off;
events { worker_connections 1024; }
http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
  types { text/x-nix-narinfo narinfo; application/x-nix-nar zst; }
  server { listen 127.0.0.1:${nginxPort}; root ${dir}/static; } }\n`,
  );
  const nginx = spawn(NGINX, ['-c', join(dir, 'nginx.conf')], { stdio: 'ignore' });
  procs.push(nginx);
  const failed = new Promise<never>((_, reject) => nginx.once('error', (err) => reject(new Error(`nginx did not start: ${err.message}`))));
  await Promise.race([new Promise((r) => setTimeout(r, 500)), failed]);
  if (nginx.exitCode !== null) throw new Error(`nginx exited at once (code ${nginx.exitCode}); see ${dir}/nginx.err (BENCH_KEEP=1 keeps it)`);
  const narinfos = served.map((p) => `${p.slice(11, 43)}.narinfo`);
  const bigNarinfo = sh(`cat ${dir}/static/${big.slice(11, 43)}.narinfo`);
  const bigUrl = /^URL: (.*)$/m.exec(bigNarinfo)![1]!;

  // Drover and nginx take turns, ROUNDS times each, so load from elsewhere on the machine hits both
  // alike; each figure is the median over the rounds, each ratio the median of the rounds' ratios.
  // Server CPU per request (drover's process; nginx's master and workers) is less sensitive to that load.
  // The floor for any Node server: the same narinfo bytes from a Map, node:http and nothing else.
  const barePort = port + 3;
  const bare = spawn(process.execPath, ['-e', BARE_NODE_SERVER, join(dir, 'static'), String(barePort)], { stdio: 'ignore' });
  procs.push(bare);
  await new Promise((r) => setTimeout(r, 500));
  const bareSide = { base: `http://127.0.0.1:${barePort}`, pids: [bare.pid!] };
  const drover = { base: `${url}/cache/serve`, pids: [serverPid] };
  const nginxSide = { base: `http://127.0.0.1:${nginxPort}`, pids: processTree(nginx.pid!) };
  const misses = narinfos.map((x) => `00000${x.slice(5)}`);
  const rounds: { d: Measured; n: Measured; b: Measured; miss: Measured; dBig: Measured; nBig: Measured }[] = [];
  let errors = 0;
  const before = readStatusBytes(serverPid, 'VmRSS');
  resetPeakRss(serverPid);
  const sampler = sampleRss(serverPid);
  // One uncounted second each first: drover's first requests fill its memory copy and run before V8 compiled the path.
  for (const side of [drover, nginxSide, bareSide]) await load(side.base, narinfos, undefined, 1);
  for (let r = 0; r < ROUNDS; r++) {
    const d = await measured(drover.pids, () => load(drover.base, narinfos));
    const n = await measured(nginxSide.pids, () => load(nginxSide.base, narinfos));
    const b = await measured(bareSide.pids, () => load(bareSide.base, narinfos));
    const miss = await measured(drover.pids, () => load(drover.base, misses));
    errors += d.errors + n.errors + b.errors + (miss.count - miss.errors); // a missing path answered 200 is an error too
    const dBig = await measured(drover.pids, () => download(`${drover.base}/${bigUrl}`, 8));
    const nBig = await measured(nginxSide.pids, () => download(`${nginxSide.base}/${bigUrl}`, 8));
    rounds.push({ d, n, b, miss, dBig, nBig });
    process.stderr.write(
      `round ${r + 1}/${ROUNDS}: narinfo drover ${d.rate.toFixed(0)}, nginx ${n.rate.toFixed(0)}, bare node ${b.rate.toFixed(0)}, drover 404 ${miss.rate.toFixed(0)} req/s; ` +
        `NAR drover ${dBig.rate.toFixed(0)}, nginx ${nBig.rate.toFixed(0)} MB/s\n`,
    );
  }
  const peak = sampler.stop();
  const med = (f: (r: (typeof rounds)[number]) => number) => median(rounds.map(f));
  const spread = (f: (r: (typeof rounds)[number]) => number) => {
    const xs = rounds.map(f);
    return `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
  };
  const us = (m: Measured) => (m.cpuMs * 1000) / m.count;
  return [
    {
      metric: 'narinfo GET, drover',
      value: med((r) => r.d.rate).toFixed(0),
      unit: 'req/s',
      note: `median of ${ROUNDS} × ${SECONDS} s (${spread((r) => r.d.rate)}), ${CONCURRENCY} keep-alive connections, errors ${errors}`,
    },
    {
      metric: 'narinfo GET, nginx (same files)',
      value: med((r) => r.n.rate).toFixed(0),
      unit: 'req/s',
      note: `${spread((r) => r.n.rate)}; **drover/nginx = ${med((r) => r.d.rate / r.n.rate).toFixed(2)}** (median of the rounds' ratios)`,
    },
    {
      metric: 'narinfo GET, bare node:http (same bytes from a Map)',
      value: med((r) => r.b.rate).toFixed(0),
      unit: 'req/s',
      note: `${spread((r) => r.b.rate)}; the floor of a Node server: drover/bare = ${med((r) => r.d.rate / r.b.rate).toFixed(2)}, bare/nginx = ${med((r) => r.b.rate / r.n.rate).toFixed(2)}`,
    },
    {
      metric: 'server CPU per narinfo GET, drover / bare node / nginx',
      value: `${med((r) => us(r.d)).toFixed(0)} / ${med((r) => us(r.b)).toFixed(0)} / ${med((r) => us(r.n)).toFixed(0)}`,
      unit: 'µs',
      note: `nginx/drover = ${med((r) => us(r.n) / us(r.d)).toFixed(2)} (drover's process; nginx's master and 2 workers)`,
    },
    { metric: 'narinfo GET 404, drover', value: med((r) => r.miss.rate).toFixed(0), unit: 'req/s', note: `missing paths (${spread((r) => r.miss.rate)})` },
    {
      metric: `NAR download ${BIG_MB} MB, drover`,
      value: med((r) => r.dBig.rate).toFixed(0),
      unit: 'MB/s',
      note: `median of ${ROUNDS} × 8 downloads, 4 parallel (${spread((r) => r.dBig.rate)})`,
    },
    {
      metric: `NAR download ${BIG_MB} MB, nginx`,
      value: med((r) => r.nBig.rate).toFixed(0),
      unit: 'MB/s',
      note: `${spread((r) => r.nBig.rate)}; **drover/nginx = ${med((r) => r.dBig.rate / r.nBig.rate).toFixed(2)}**`,
    },
    {
      metric: 'server CPU per NAR MB, drover / nginx',
      value: `${med((r) => us(r.dBig)).toFixed(0)} / ${med((r) => us(r.nBig)).toFixed(0)}`,
      unit: 'µs',
      note: `nginx/drover = ${med((r) => us(r.nBig) / us(r.dBig)).toFixed(2)} (nginx: sendfile)`,
    },
    {
      metric: 'server peak RSS, narinfo + NAR rounds',
      value: (peak.peak / MB).toFixed(0),
      unit: 'MB',
      note: `${peak.peak >= before ? '+' : '−'}${(Math.abs(peak.peak - before) / MB).toFixed(0)} MB over before (${peak.samples} samples + VmHWM)`,
    },
  ];
}

/** One load run: its rate (requests or MB per second), how many (requests or MB), errors, and the CPU the serving processes spent. */
interface Measured {
  readonly rate: number;
  readonly count: number;
  readonly errors: number;
  readonly cpuMs: number;
}

async function measured(pids: readonly number[], run: () => Promise<{ rate: number; count: number; errors: number }>): Promise<Measured> {
  const cpu = cpuMsSum(pids);
  const r = await run();
  return { ...r, cpuMs: cpuMsSum(pids) - cpu };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Pushing N small paths: nix copy vs drover push, loopback and through the latency proxy. */
async function pushPhase({ dir, port, url, netrc, admin, push, procs }: Bench): Promise<Row[]> {
  for (const c of ['nixcopy', 'dpush', 'nixcopyrtt', 'dpushrtt'])
    sh(`${process.execPath} ${DROVER} cache create ${c} --public --server ${url}`, { DROVER_ADMIN_TOKEN: admin });
  const pushRun = async (cache: string, tool: 'nix' | 'drover', base: string, tag: string) => {
    const paths = makePaths(dir, N, tag);
    const before = await requestCount(url, admin);
    const limit = `timeout ${PUSH_TIMEOUT_S}`;
    let secs = NaN;
    try {
      secs =
        tool === 'nix'
          ? timed(`${limit} nix copy --to '${base}/cache/${cache}?compression=zstd' --option netrc-file ${netrc} ${paths.join(' ')}`, {
              XDG_CACHE_HOME: join(dir, `xdg-${tag}`),
            })
          : timed(`${limit} ${process.execPath} ${DROVER} push ${cache} ${paths.join(' ')} --server ${base}`, { DROVER_PUSH_TOKEN: push });
    } catch (err) {
      process.stderr.write(`${tool} push to ${base} failed or timed out: ${(err as Error).message.slice(-300)}\n`);
    }
    return { secs, requests: (await requestCount(url, admin)) - before };
  };
  const nixLoop = await pushRun('nixcopy', 'nix', url, 'a');
  const drvLoop = await pushRun('dpush', 'drover', url, 'b');
  process.stderr.write(
    `loopback: nix copy ${nixLoop.secs.toFixed(2)} s (${nixLoop.requests} requests), drover push ${drvLoop.secs.toFixed(2)} s (${drvLoop.requests} requests)\n`,
  );
  // The proxy runs in its own process: the push runs below block this one's event loop (spawnSync).
  const proxyPort = port + 2;
  const proxy = spawn(process.execPath, [fileURLToPath(import.meta.url), 'proxy', String(port), String(proxyPort), String(RTT)], { stdio: 'ignore' });
  procs.push(proxy);
  await new Promise((r) => setTimeout(r, 500));
  const via = `http://127.0.0.1:${proxyPort}`;
  const nixRtt = await pushRun('nixcopyrtt', 'nix', via, 'c');
  const drvRtt = await pushRun('dpushrtt', 'drover', via, 'd');
  return [
    { metric: `nix copy --to, ${N} paths, loopback`, value: nixLoop.secs.toFixed(2), unit: 's', note: `${nixLoop.requests} requests` },
    {
      metric: `drover push, ${N} paths, loopback`,
      value: drvLoop.secs.toFixed(2),
      unit: 's',
      note: `${drvLoop.requests} requests; ${(nixLoop.secs / drvLoop.secs).toFixed(1)}x faster than nix copy`,
    },
    { metric: `nix copy --to, ${N} paths, +${RTT} ms RTT`, value: nixRtt.secs.toFixed(2), unit: 's', note: `${nixRtt.requests} requests` },
    {
      metric: `drover push, ${N} paths, +${RTT} ms RTT`,
      value: drvRtt.secs.toFixed(2),
      unit: 's',
      note: `${drvRtt.requests} requests; ${(nixRtt.secs / drvRtt.secs).toFixed(1)}x faster than nix copy`,
    },
  ];
}

async function main(): Promise<void> {
  const missing = PHASES.has('serve') ? nginxMissing() : null;
  if (missing) {
    process.stderr.write(`${missing}\n`);
    process.exitCode = 1;
    return;
  }
  const work = await tempDir('drover-bench-cache-');
  const dir = work.path;
  const procs: ChildProcess[] = [];
  try {
    const port = 17_000 + Math.floor(Math.random() * 1000);
    const url = `http://127.0.0.1:${port}`;
    const nodeFlags = (process.env['BENCH_SERVER_NODE_FLAGS'] ?? '').split(' ').filter(Boolean);
    const server = spawn(
      process.execPath,
      [...nodeFlags, DROVER, 'server', '--listen', `127.0.0.1:${port}`, '--data-dir', join(dir, 'data'), '--log-level', 'warn'],
      {
        stdio: 'ignore',
      },
    );
    procs.push(server);
    for (let i = 0; i < 100 && !(await fetch(`${url}/api/v1/health`).catch(() => null))?.ok; i++) await new Promise((r) => setTimeout(r, 100));
    const admin = sh(`${process.execPath} ${DROVER} token create --kind admin --data-dir ${join(dir, 'data')}`);
    const push = sh(`${process.execPath} ${DROVER} token create --kind push --data-dir ${join(dir, 'data')}`);
    const netrc = join(dir, 'netrc');
    await writeFile(netrc, `machine 127.0.0.1 password ${push}\n`);
    const bench: Bench = { dir, port, url, netrc, admin, push, serverPid: server.pid!, procs };
    const rows: Row[] = [];
    if (PHASES.has('serve')) rows.push(...(await servePhase(bench)));
    if (PHASES.has('push')) rows.push(...(await pushPhase(bench)));
    if (PHASES.has('huge') && HUGE_MB > 0) rows.push(...(await hugePhase(bench)));
    process.stdout.write(renderTable(rows) + '\n');
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, process.env['BENCH_SERVER_NODE_FLAGS'] ? 3000 : 300));
    if (!process.env['BENCH_KEEP']) await work.remove();
  }
}

if (process.argv[2] === 'proxy') await startTcpProxy(Number(process.argv[3]), { listenPort: Number(process.argv[4]), rttMs: Number(process.argv[5]) });
else await main();
