#!/usr/bin/env node
// A Node.js socket.io 4.8 node that answers the same events as our sio-cluster-node (Sources/sio-cluster-node), so
// the cluster tests can put Node's adapters beside ours (Tests/cluster/test_streams_node_peer.py) and capture what
// Node's adapters write (Tests/cluster/fixtures/redis-streams). Needs the packages scripts/node-peer/build.sh lays
// out (no npm):
//
//   NODE_PATH=/usr/share/nodejs node scripts/node-peer/node-cluster-node.js --peer /work/nodepeer --port P \
//       (--redis-streams URL | --redis URL [--sharded static|dynamic]) --name A [--recovery-ms N] ...
//
// Flags are sio-cluster-node's where they exist (--host, --recovery-ms, --ping-interval, --ping-timeout,
// --requests-timeout is ignored: ClusterAdapter 0.3 has a fixed 5000 ms, --stream-name, --stream-count,
// --stream-maxlen, --block-ms, --key); --sharded picks @socket.io/redis-adapter's createShardedAdapter with that
// subscriptionMode. Every Redis connection is named <name> (CLIENT SETNAME), so a MONITOR log tells the nodes apart.
"use strict";

const path = require("path");

const usage = `usage: node-cluster-node.js --peer DIR --port P (--redis-streams URL | --redis URL [--sharded static|dynamic])
                          --name NAME [--host 127.0.0.1] [--recovery-ms N] [--ping-interval MS] [--ping-timeout MS]
                          [--stream-name socket.io] [--stream-count 1] [--stream-maxlen 10000] [--block-ms 5000]
                          [--key socket.io] [--requests-timeout MS (ignored)]

  --peer DIR           where scripts/node-peer/build.sh put node_modules (default $SIO_NODE_PEER or /work/nodepeer)
  --redis-streams URL  @socket.io/redis-streams-adapter 0.3.1
  --redis URL          @socket.io/redis-adapter 8.3.0 createAdapter (classic pub/sub)
  --sharded MODE       with --redis: createShardedAdapter, subscriptionMode static or dynamic (SSUBSCRIBE/SPUBLISH)
  --recovery-ms N      connectionStateRecovery with maxDisconnectionDuration N (skipMiddlewares true)`;

const options = { host: "127.0.0.1", key: "socket.io", peer: process.env.SIO_NODE_PEER || "/work/nodepeer" };
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const flag = args[i];
  const value = () => {
    if (i + 1 >= args.length) fail();
    return args[++i];
  };
  switch (flag) {
    case "--peer": options.peer = value(); break;
    case "--port": options.port = Number(value()); break;
    case "--host": options.host = value(); break;
    case "--name": options.name = value(); break;
    case "--redis-streams": options.url = value(); options.adapter = "streams"; break;
    case "--redis": options.url = value(); options.adapter = options.adapter || "pubsub"; break;
    case "--sharded": options.sharded = value(); break;
    case "--key": options.key = value(); break;
    case "--recovery-ms": options.recovery = Number(value()); break;
    case "--ping-interval": options.pingInterval = Number(value()); break;
    case "--ping-timeout": options.pingTimeout = Number(value()); break;
    case "--requests-timeout": value(); break;
    case "--stream-name": options.streamName = value(); break;
    case "--stream-count": options.streamCount = Number(value()); break;
    case "--stream-maxlen": options.maxLen = Number(value()); break;
    case "--block-ms": options.blockTimeInMs = Number(value()); break;
    case "--heartbeat-interval": case "--heartbeat-timeout": case "--session-refresh": value(); break;
    case "--sessions-on-leave": break;
    case "--help": case "-h": console.log(usage); process.exit(0); break;
    default: fail();
  }
}
if (!options.port || !options.name || !options.url) fail();
if (options.sharded && !["static", "dynamic"].includes(options.sharded)) fail();

function fail() {
  console.error(usage);
  process.exit(2);
}

const modules = path.join(options.peer, "node_modules");
const need = (name) => require(path.join(modules, name));
const { Server } = need("socket.io");
const { createClient } = need("@redis/client");

const name = options.name;

async function adapterFactory() {
  const pub = createClient({ url: options.url, name });
  pub.on("error", (err) => console.error(`${name}: redis: ${err.message}`));
  await pub.connect();
  if (options.adapter === "streams") {
    const { createAdapter } = need("@socket.io/redis-streams-adapter");
    const streamOptions = {};
    for (const key of ["streamName", "streamCount", "maxLen", "blockTimeInMs"]) {
      if (options[key] !== undefined) streamOptions[key] = options[key];
    }
    return { factory: createAdapter(pub, streamOptions), text: `redis streams ${options.url}` };
  }
  const redisAdapter = need("@socket.io/redis-adapter");
  const sub = pub.duplicate();
  sub.on("error", (err) => console.error(`${name}: redis sub: ${err.message}`));
  await sub.connect();
  if (options.sharded) {
    return {
      factory: redisAdapter.createShardedAdapter(pub, sub, { channelPrefix: options.key, subscriptionMode: options.sharded }),
      text: `redis sharded ${options.url} (${options.sharded})`,
    };
  }
  return { factory: redisAdapter.createAdapter(pub, sub, { key: options.key }), text: `redis ${options.url}` };
}

/** obj.rooms (array) or obj.room or everyone; except obj.except; volatile, compress(false) as obj says. */
function target(base, obj) {
  let t = base;
  if (obj && Array.isArray(obj.rooms)) t = t.to(obj.rooms);
  else if (obj && typeof obj.room === "string") t = t.to(obj.room);
  if (obj && obj.except !== undefined) t = t.except(obj.except);
  if (obj && obj.volatile === true) t = t.volatile;
  if (obj && obj.compress === false) t = t.compress(false);
  return t;
}

function failure(err) {
  if (!err) return null;
  return /timeout/.test(String(err.message || err)) ? "operation has timed out" : String(err.message || err);
}

function first(args) {
  return args.length > 0 ? args[0] : undefined;
}

async function main() {
  const { factory, text } = await adapterFactory();
  const serverOptions = { adapter: factory, serveClient: false, cors: { origin: "*" } };
  if (options.recovery !== undefined) {
    serverOptions.connectionStateRecovery = { maxDisconnectionDuration: options.recovery, skipMiddlewares: true };
  }
  if (options.pingInterval !== undefined) serverOptions.pingInterval = options.pingInterval;
  if (options.pingTimeout !== undefined) serverOptions.pingTimeout = options.pingTimeout;
  const io = new Server(serverOptions);
  const main = io.of("/");

  main.on("connection", (socket) => {
    if (!socket.recovered) socket.data = { node: name };
    const on = (event, handler) =>
      socket.on(event, (...args) => {
        const ack = typeof args[args.length - 1] === "function" ? args.pop() : () => {};
        handler(args, ack);
      });
    const socketsTarget = (obj) => (obj && typeof obj.target === "string" ? io.in(obj.target) : io);
    on("join", ([room], ack) => { if (typeof room === "string") socket.join(room); ack(true); });
    on("leave", ([room], ack) => { if (typeof room === "string") socket.leave(room); ack(true); });
    on("broadcast", (args, ack) => { target(io, first(args)).emit("bcast", ...args); ack(true); });
    on("sock-broadcast", (args, ack) => { target(socket.broadcast, first(args)).emit("bcast", ...args); ack(true); });
    on("echo-ack", (args, ack) => ack(...args));
    on("whoami", (_args, ack) =>
      ack({ node: name, id: socket.id, port: options.port, loop: 0, recovered: socket.recovered,
            rooms: [...socket.rooms].sort(), data: socket.data }));
    on("direct", (args, ack) => { socket.emit("bcast", ...args); ack(true); });
    on("fetch", async ([room], ack) => {
      const sockets = await (typeof room === "string" ? io.in(room) : io).fetchSockets();
      ack(sockets.map((s) => s.id));
    });
    on("fetch-full", async ([room], ack) => {
      const sockets = await (typeof room === "string" ? io.in(room) : io).fetchSockets();
      ack(sockets.map((s) => ({ id: s.id, rooms: [...s.rooms].sort(), data: s.data })));
    });
    on("server-count", async (_args, ack) => ack(await main.adapter.serverCount()));
    on("all-rooms", async (_args, ack) => {
      const rooms = typeof main.adapter.allRooms === "function" ? await main.adapter.allRooms() : main.adapter.rooms.keys();
      ack([...rooms].sort());
    });
    on("ssemit", (args, ack) => { io.serverSideEmit("hello", ...args); ack(true); });
    on("ssemit-ack", (args, ack) => {
      io.serverSideEmit("hello-ack", ...args, (err, responses) => ack({ err: failure(err), responses: responses || [] }));
    });
    on("sockets-join", ([obj], ack) => {
      if (obj && typeof obj.room === "string") socketsTarget(obj).socketsJoin(obj.room);
      ack(true);
    });
    on("sockets-leave", ([obj], ack) => {
      if (obj && typeof obj.room === "string") socketsTarget(obj).socketsLeave(obj.room);
      ack(true);
    });
    on("disconnect-sockets", ([obj], ack) => {
      ack(true); // first: the asking socket may be among those disconnected
      socketsTarget(obj).disconnectSockets(Boolean(obj && obj.close));
    });
    on("bcast-ack", ([obj], ack) => {
      let t = io.timeout(3000);
      if (obj && typeof obj.room === "string") t = t.to(obj.room);
      t.emit("need-ack", obj ? obj.payload : null, (err, responses) =>
        ack({ err: failure(err), responses: responses || [] }));
    });
  });

  io.on("hello", (arg) => main.local.emit("ss-hello", { node: name, arg }));
  io.on("hello-ack", (arg, callback) => {
    const answer = { node: name, arg };
    if (arg && arg.slow === name && arg.delay > 0) setTimeout(() => callback(answer), arg.delay);
    else callback(answer);
  });

  const chat = io.of("/chat");
  chat.on("connection", (socket) => {
    socket.data = { node: name };
    socket.on("join", (room, ack) => { if (typeof room === "string") socket.join(room); if (typeof ack === "function") ack(true); });
    socket.on("broadcast", (...args) => {
      const ack = typeof args[args.length - 1] === "function" ? args.pop() : () => {};
      target(chat, first(args)).emit("bcast", ...args);
      ack(true);
    });
  });

  // Server.listen(port) would listen on every address: our own http server listens on the one asked for.
  const httpServer = require("http").createServer();
  io.attach(httpServer);
  await new Promise((resolve) => httpServer.listen(options.port, options.host, resolve));
  console.log(`sio-cluster-node ${name} listening on ${options.host}:${options.port} (node ${process.version}, ${text})`);
  // io.close() writes the sessions of the sockets it closes, then waits for every connection to end: exit soon.
  const stop = () => {
    io.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1500).unref();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((err) => {
  console.error(`node-cluster-node: ${err.stack || err}`);
  process.exit(1);
});
