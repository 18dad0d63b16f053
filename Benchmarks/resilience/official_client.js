// Drives N official Socket.IO clients (socket.io-client 4.8.1, the browser bundle socket.io.min.js, in Node 20
// with --experimental-websocket, else with the `ws` library as its WebSocket; transports ["websocket"]: the
// bundle's polling needs XMLHttpRequest) for the
// resilience scenarios whose point is the client's own reconnection logic (defaults: reconnectionDelay 1 s,
// reconnectionDelayMax 5 s, randomizationFactor 0.5, timeout 20 s).
//
//   node --experimental-websocket official_client.js CONFIG_JSON
//
// mode "jitter": the clients connect through chaos_proxy.js (forked here), which cuts every connection abruptly
//   about every period_s; one more client (the sender, straight to the server, never cut) emits
//   `broadcast` {seq, t, pad} `messages` times at `rate`/s (the server sends `bcast` to the whole namespace).
//   The cuts start once every client has the first message (and with it an offset).
//   Each receiver checks what it got: delivered (client, message) pairs, duplicates, order violations; which
//   reconnections the server recovered (socket.recovered); replays (a message broadcast before the current
//   transport opened) and their latency; how long clients stayed without a connection.
// mode "storm": the clients connect straight to the server and print READY; the runner SIGKILLs the server,
//   writes "KILLED <CLOCK_MONOTONIC ns>" on stdin, restarts it on the same port, writes "RESTARTED <ns>". The
//   driver measures when each client is back (its connect event), until all are or give_up_s passed.
// Progress goes to stderr; the last line of stdout is the result as JSON.
"use strict";
const { fork } = require("child_process");
const path = require("path");
const readline = require("readline");

const cfg = JSON.parse(process.argv[2]);
if (typeof globalThis.WebSocket !== "function") {
    // Node without a WebSocket of its own (18; 20 without --experimental-websocket): the `ws` library
    // (Debian's node-ws), which the browser bundle drives through the same WebSocket API.
    try {
        globalThis.WebSocket = require("ws");
    } catch (e) {
        globalThis.WebSocket = require("/usr/share/nodejs/ws"); // where Debian puts it (NodeSource's node looks elsewhere)
    }
}
const io = require(cfg.client_js);

const monoNs = () => process.hrtime.bigint(); // CLOCK_MONOTONIC, the clock of the runner's time.monotonic_ns()
const nowMs = () => Number(monoNs()) / 1e6;
const log = (msg) => process.stderr.write(`[official_client] ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function percentile(values, p) {
    if (!values.length) return null;
    const v = Float64Array.from(values).sort();
    return v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))];
}

let everConnected = 0; // clients that connected at least once
let killedAt = null, restartedAt = null; // storm: when the runner killed and restarted the server

// One receiver: its own Manager (forceNew), so each client has its own connection and reconnection.
function makeClient(url, index, messages) {
    const c = {
        index, connects: 0, recovered: 0, disconnects: 0, errors: 0, errorsAfterRestart: 0, attemptAt: 0,
        connected: false,
        got: new Uint8Array(messages), lastSeq: -1, duplicates: 0, orderViolations: 0,
        openedAt: 0, downSince: 0, outages: [], replays: [], connectedAt: [],
    };
    const socket = io(url, { transports: ["websocket"], forceNew: true });
    c.socket = socket;
    socket.io.on("open", () => { c.openedAt = nowMs(); });
    socket.on("connect", () => {
        const t = nowMs();
        c.connects++;
        if (!c.everConnected) { c.everConnected = true; everConnected++; }
        c.connected = true;
        c.connectedAt.push(t);
        if (c.connects > 1 && socket.recovered) c.recovered++;
        if (c.downSince) c.outages.push(t - c.downSince);
        c.downSince = 0;
    });
    socket.on("disconnect", () => {
        c.disconnects++;
        c.connected = false;
        c.downSince = nowMs();
    });
    socket.io.on("reconnect_attempt", () => { c.attemptAt = nowMs(); });
    socket.on("connect_error", () => {
        c.errors++;
        if (restartedAt !== null && c.attemptAt >= restartedAt) c.errorsAfterRestart++; // began after the restart
    });
    socket.on("bcast", (data) => {
        if (!data || typeof data.seq !== "number" || data.seq < 0 || data.seq >= messages) return;
        const t = nowMs();
        if (c.got[data.seq]) c.duplicates++;
        c.got[data.seq] = Math.min(255, c.got[data.seq] + 1);
        if (data.seq <= c.lastSeq) c.orderViolations++;
        c.lastSeq = Math.max(c.lastSeq, data.seq);
        if (data.t < c.openedAt) c.replays.push(t - data.t); // sent before this transport opened: a replay
    });
    return c;
}

// Opens the clients with at most `window` handshakes in flight; resolves when all connected or timeout_s passed.
async function connectAll(url, n, window, messages, timeoutS) {
    const clients = [];
    const deadline = nowMs() + timeoutS * 1000;
    const base = everConnected;
    while (everConnected - base < n && nowMs() < deadline) {
        while (clients.length < n && clients.length - (everConnected - base) < window) {
            clients.push(makeClient(url, clients.length, messages));
        }
        await sleep(10);
    }
    return clients;
}

function cpuCores(from, wallMs) {
    const u = process.cpuUsage(from);
    return (u.user + u.system) / 1000 / wallMs;
}

async function jitter() {
    // cfg.ports: several nodes of a cluster behind the proxy, in turn (the sender stays on cfg.port).
    const targets = (cfg.ports || [cfg.port]).map(String);
    const proxy = fork(path.join(__dirname, "chaos_proxy.js"), [String(0), ...targets], { stdio: "inherit" });
    const proxyMsg = (want) => new Promise((resolve) => {
        const on = (m) => { if (want in m) { proxy.off("message", on); resolve(m); } };
        proxy.on("message", on);
    });
    const proxyPort = (await proxyMsg("listening")).listening;
    const url = `http://127.0.0.1:${proxyPort}`;
    const t0 = nowMs();
    const clients = await connectAll(url, cfg.clients, cfg.window, cfg.messages, cfg.timeout_s);
    const setupS = (nowMs() - t0) / 1000;
    const ready = clients.filter((c) => c.connected).length;
    log(`${ready}/${cfg.clients} connected in ${setupS.toFixed(1)} s`);
    if (ready < cfg.clients) {
        console.log(JSON.stringify({ ok: false, error: `only ${ready} of ${cfg.clients} clients connected` }));
        process.exit(1);
    }
    const sender = io(`http://127.0.0.1:${cfg.port}`, { transports: ["websocket"], forceNew: true });
    await new Promise((resolve) => sender.on("connect", resolve));

    // The first message before the first cut: a client holds an offset from then on, without which no server
    // can tell what it missed (the reference restores only a client that sends one).
    const pad = "x".repeat(cfg.payload || 0);
    sender.emit("broadcast", { seq: 0, t: nowMs(), pad });
    const firstBy = nowMs() + 5000;
    while (nowMs() < firstBy && !clients.every((c) => c.got[0])) await sleep(20);
    proxy.send({ cmd: "start", period_s: cfg.period_s, style: cfg.cut_style || "reset" });
    const cpu0 = process.cpuUsage();
    const w0 = nowMs();
    await sleep(cfg.settle_s * 1000); // cuts are under way before the second message
    const sendStart = nowMs();
    for (let seq = 1; seq < cfg.messages; seq++) {
        const due = sendStart + ((seq - 1) * 1000) / cfg.rate;
        const wait = due - nowMs();
        if (wait > 0) await sleep(wait);
        sender.emit("broadcast", { seq, t: nowMs(), pad });
        if (seq % Math.max(1, cfg.rate * 10) === 0) {
            const up = clients.filter((c) => c.connected).length;
            log(`message ${seq}/${cfg.messages}: ${up} clients connected`);
        }
    }
    proxy.send({ cmd: "stop" });
    // Drain: until every client is connected and has every message (or has nothing more coming), bounded.
    // A client has what it will get once it got the last message, or once it has been connected for a second
    // after the last send (a replay comes right after the CONNECT).
    const lastSend = nowMs();
    const drainEnd = lastSend + cfg.drain_s * 1000;
    while (nowMs() < drainEnd) {
        const settled = (c) => c.connected && (c.got[cfg.messages - 1]
            || (nowMs() > lastSend + 1000 && nowMs() - c.connectedAt[c.connectedAt.length - 1] > 1000));
        if (clients.every(settled)) break;
        await sleep(100);
    }
    await sleep(300);
    const wallMs = nowMs() - w0;
    const cpu = cpuCores(cpu0, wallMs);
    proxy.send({ cmd: "stats" });
    const pstats = await proxyMsg("stats");
    proxy.send({ cmd: "exit" });

    const pairs = cfg.clients * cfg.messages;
    let delivered = 0, duplicates = 0, order = 0, connects = 0, recovered = 0, disconnects = 0, errors = 0;
    const replays = [], outages = [];
    let fullyServed = 0;
    for (const c of clients) {
        let n = 0;
        for (let i = 0; i < cfg.messages; i++) if (c.got[i]) n++;
        delivered += n;
        if (n === cfg.messages) fullyServed++;
        duplicates += c.duplicates;
        order += c.orderViolations;
        connects += c.connects;
        recovered += c.recovered;
        disconnects += c.disconnects;
        errors += c.errors;
        for (const x of c.replays) replays.push(x);
        for (const x of c.outages) outages.push(x);
    }
    const reconnections = connects - cfg.clients;
    const stillDown = clients.filter((c) => !c.connected).length;
    const proxyCpu = (pstats.cpu.user + pstats.cpu.system) / 1000 / wallMs;
    const result = {
        ok: true,
        metrics: {
            delivered_pct: (100 * delivered) / pairs,
            lost: pairs - delivered,
            duplicates,
            order_violations: order,
            cuts: pstats.stats.cut,
            disconnects,
            reconnections,
            recovery_rate_pct: reconnections > 0 ? (100 * recovered) / reconnections : null,
            replays: replays.length,
            replay_p50_ms: percentile(replays, 50),
            replay_p99_ms: percentile(replays, 99),
            outage_p50_ms: percentile(outages, 50),
            outage_p99_ms: percentile(outages, 99),
            outage_max_ms: outages.length ? Math.max(...outages) : null,
            connect_errors: errors,
            clients_with_everything: fullyServed,
            clients_down_at_end: stillDown,
            setup_s: setupS,
        },
        window: { wall_s: wallMs / 1000, loadgen_cpu_util: cpu, proxy_cpu_util: proxyCpu },
    };
    console.log(JSON.stringify(result));
    process.exit(0);
}

async function storm() {
    const url = `http://127.0.0.1:${cfg.port}`;
    const t0 = nowMs();
    const clients = await connectAll(url, cfg.clients, cfg.window, 1, cfg.timeout_s);
    const ready = clients.filter((c) => c.connected).length;
    log(`${ready}/${cfg.clients} connected in ${((nowMs() - t0) / 1000).toFixed(1)} s`);
    if (ready < cfg.clients) {
        console.log(JSON.stringify({ ok: false, error: `only ${ready} of ${cfg.clients} clients connected` }));
        process.exit(1);
    }
    for (const c of clients) { c.connects = 0; c.connectedAt = []; c.errors = 0; }
    let errorsBeforeRestart = 0;
    const rl = readline.createInterface({ input: process.stdin });
    rl.on("line", (line) => {
        const [what, ns] = line.trim().split(/\s+/);
        if (what === "KILLED") killedAt = Number(BigInt(ns)) / 1e6;
        if (what === "RESTARTED") {
            restartedAt = Number(BigInt(ns)) / 1e6;
            errorsBeforeRestart = clients.reduce((a, c) => a + c.errors, 0);
        }
    });
    console.log("READY");
    const cpu0 = process.cpuUsage();
    while (restartedAt === null) await sleep(20);
    const w0 = nowMs();
    const giveUp = restartedAt + cfg.give_up_s * 1000;
    while (nowMs() < giveUp && !clients.every((c) => c.connects > 0)) await sleep(50);
    const wallMs = nowMs() - w0;
    const back = clients.filter((c) => c.connects > 0).map((c) => c.connectedAt[0]).sort((a, b) => a - b);
    const errors = clients.reduce((a, c) => a + c.errors, 0);
    const at = (p) => {
        const k = Math.ceil((p / 100) * cfg.clients);
        return back.length >= k && k > 0 ? back[k - 1] : null;
    };
    const since = (t, from) => (t === null ? null : (t - from) / 1000);
    const result = {
        ok: back.length === cfg.clients,
        metrics: {
            back_50_s: since(at(50), restartedAt), back_95_s: since(at(95), restartedAt),
            back_100_s: since(at(100), restartedAt),
            back_50_since_kill_s: since(at(50), killedAt), back_95_since_kill_s: since(at(95), killedAt),
            back_100_since_kill_s: since(at(100), killedAt),
            not_back: cfg.clients - back.length,
            connect_errors_down: errorsBeforeRestart,
            connect_errors_after_restart: clients.reduce((a, c) => a + c.errorsAfterRestart, 0),
            connect_errors_reported_after_restart: errors - errorsBeforeRestart,
            downtime_s: (restartedAt - killedAt) / 1000,
        },
        window: { wall_s: wallMs / 1000, loadgen_cpu_util: cpuCores(cpu0, nowMs() - killedAt) },
    };
    console.log(JSON.stringify(result));
    process.exit(0);
}

(cfg.mode === "jitter" ? jitter() : storm()).catch((e) => {
    console.log(JSON.stringify({ ok: false, error: String(e && e.stack || e) }));
    process.exit(1);
});
