// A TCP proxy that cuts connections abruptly (RST both ways) at random moments: a flapping network between the
// official clients and the server, for the jitter scenario. Forked by official_client.js, driven by IPC messages:
//   {cmd: "start", period_s, style}   from now on, cut each connection at a random moment: the first cut of a connection
//                              open now comes uniformly within period_s, then every connection lives a uniform
//                              0.5..1.5 x period_s (so each client is cut about every period_s); style "reset"
//                              (default) sends an RST both ways, "close" closes both sockets (a FIN, or an RST
//                              where unread data is left), as a process that dies or a socket.destroy() does
//   {cmd: "stop"}              cut nothing more
//   {cmd: "stats"}             answers {stats: {accepted, cut, open, upstream_errors}}
// Started with: node chaos_proxy.js LISTEN_PORT TARGET_PORT [TARGET_PORT...]; sends {listening: port} once it
// listens. With several targets, connections go to them in turn: a client cut on one node reconnects to the next.
"use strict";
const net = require("net");

const [listenPort, ...targetPorts] = process.argv.slice(2).map(Number);
let cutting = false;
let period = 15;
let style = "reset";
const open = new Set();
const stats = { accepted: 0, cut: 0, open: 0, upstream_errors: 0 };

function schedule(pair, first) {
    clearTimeout(pair.timer);
    const delay = first ? Math.random() * period : (0.5 + Math.random()) * period;
    pair.timer = setTimeout(() => cut(pair), delay * 1000);
}

function cut(pair) {
    if (pair.closed) return;
    stats.cut++;
    close(pair, style === "reset");
}

function close(pair, reset) {
    if (pair.closed) return;
    pair.closed = true;
    clearTimeout(pair.timer);
    open.delete(pair);
    for (const s of [pair.client, pair.upstream]) {
        if (reset && typeof s.resetAndDestroy === "function" && !s.destroyed && s.readyState !== "opening") {
            s.resetAndDestroy();
        } else {
            s.destroy();
        }
    }
}

const server = net.createServer({ noDelay: true }, (client) => {
    const upstream = net.connect({ port: targetPorts[stats.accepted % targetPorts.length], host: "127.0.0.1",
                                   noDelay: true });
    stats.accepted++;
    const pair = { client, upstream, timer: null, closed: false };
    open.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    // A clean end on one side ends the other cleanly; an error resets both.
    client.on("end", () => upstream.end());
    upstream.on("end", () => client.end());
    client.on("close", () => close(pair, false));
    upstream.on("close", () => close(pair, false));
    client.on("error", () => close(pair, true));
    upstream.on("error", () => { stats.upstream_errors++; close(pair, true); });
    if (cutting) schedule(pair, false);
});
server.maxConnections = 1 << 20;
server.listen({ port: listenPort, host: "127.0.0.1", backlog: 4096 }, () => {
    process.send({ listening: server.address().port });
});

process.on("message", (m) => {
    if (m.cmd === "start") {
        period = m.period_s;
        style = m.style || "reset";
        cutting = true;
        for (const pair of open) schedule(pair, true);
    } else if (m.cmd === "stop") {
        cutting = false;
        for (const pair of open) clearTimeout(pair.timer);
    } else if (m.cmd === "stats") {
        stats.open = open.size;
        process.send({ stats, cpu: process.cpuUsage() });
    } else if (m.cmd === "exit") {
        process.exit(0);
    }
});
process.on("disconnect", () => process.exit(0));
