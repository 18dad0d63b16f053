// swift-tools-version:6.1
// A Socket.IO server engine (Engine.IO v4, Socket.IO v5) in Swift on libuv, embeddable through a C ABI.
// Layers, bottom up (docs/ARCHITECTURE.md): system libraries -> SIOLoop -> SIOHTTP -> EngineIO -> SocketIO.
// The codecs (EngineIOCodec, WebSocketCodec, SocketIOCodec) do no I/O so they can be unit-tested and fuzzed alone.
import PackageDescription

// One settings list for every Swift target. Language mode 5: the engine does its own threading (one libuv loop
// thread owns all state), which strict Sendable checking cannot express without locks in the hot path.
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v5),
]

let package = Package(
    name: "sio",
    products: [
        .library(name: "SocketIO", targets: ["SocketIO"]),
        .library(name: "EngineIO", targets: ["EngineIO"]),
        .library(name: "sio", type: .dynamic, targets: ["SIOCABI"]),
        .executable(name: "sio-protocol-server", targets: ["sio-protocol-server"]),
        .executable(name: "sio-bench-server", targets: ["sio-bench-server"]),
        .executable(name: "sio-chat", targets: ["sio-chat"]),
        .library(name: "SocketIORedis", targets: ["SocketIORedis"]),
        .library(name: "SocketIORedisStreams", targets: ["SocketIORedisStreams"]),
        .executable(name: "sio-cluster-node", targets: ["sio-cluster-node"]),
    ],
    targets: [
        // System libraries (Debian -dev packages); see scripts/bootstrap.sh.
        .systemLibrary(name: "CLibUV", pkgConfig: "libuv", providers: [.apt(["libuv1-dev"])]),
        .systemLibrary(name: "CHTTPParser", providers: [.apt(["libhttp-parser-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // Redis (hiredis async with its libuv adapter) and msgpack-c, for SocketIORedis; see scripts/bootstrap-redis.sh.
        // No pkgConfig: hiredis.pc adds -D_FILE_OFFSET_BITS=64, which SwiftPM refuses with a warning on every build;
        // the shim includes <hiredis/...> from /usr/include and the module map links -lhiredis.
        .systemLibrary(name: "CHiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CMsgpack", pkgConfig: "msgpack", providers: [.apt(["libmsgpack-dev"])]),
        // libxcrypt's crypt_rn: bcrypt hashes for the admin UI's basic authentication (SocketIO/Admin).
        .systemLibrary(name: "CCrypt", providers: [.apt(["libcrypt-dev"])]),

        // Pure codecs: bytes in, values out, no I/O.
        .target(name: "EngineIOCodec", dependencies: ["COpenSSL"], swiftSettings: swiftSettings),
        .target(name: "WebSocketCodec", dependencies: ["CZlib"], swiftSettings: swiftSettings),
        .target(name: "SocketIOCodec", swiftSettings: swiftSettings),
        // MessagePack values as notepack.io (Node's) reads and writes them, over msgpack-c, and their JSON form: the
        // Redis adapter's wire format and the msgpack parser's.
        .target(name: "MsgPackCodec", dependencies: ["CMsgpack", "SocketIOCodec"], swiftSettings: swiftSettings),

        // Event loop, TCP (and TLS over it, OpenSSL through memory BIOs), timers, logging.
        .target(name: "SIOLoop", dependencies: ["CLibUV", "COpenSSL"], swiftSettings: swiftSettings),
        // HTTP/1.1 requests and responses, the WebSocket handshake and connection.
        .target(
            name: "SIOHTTP",
            dependencies: ["SIOLoop", "CHTTPParser", "COpenSSL", "CZlib", "WebSocketCodec"],
            swiftSettings: swiftSettings),
        // Engine.IO v4 server: sessions, polling and websocket transports, upgrade, heartbeat.
        .target(
            name: "EngineIO", dependencies: ["SIOHTTP", "SIOLoop", "EngineIOCodec", "WebSocketCodec"],
            swiftSettings: swiftSettings),
        // Socket.IO v5 server: namespaces, rooms, acks, adapters. The public Swift API.
        .target(
            name: "SocketIO", dependencies: ["EngineIO", "SIOHTTP", "SocketIOCodec", "MsgPackCodec", "SIOLoop", "CCrypt"],
            swiftSettings: swiftSettings),

        // The Redis adapter: scale out over Redis pub/sub, wire-compatible with Node's @socket.io/redis-adapter 8.x.
        .target(
            name: "SocketIORedis", dependencies: ["SocketIO", "MsgPackCodec", "SIOLoop", "CLibUV", "CHiredis", "CMsgpack"],
            swiftSettings: swiftSettings),

        // The Redis streams adapter: wire-compatible with Node's @socket.io/redis-streams-adapter 0.3.x; sessions and
        // missed packets kept in Redis, so clients recover on any node.
        .target(
            name: "SocketIORedisStreams",
            dependencies: ["SocketIO", "SocketIORedis", "MsgPackCodec", "EngineIOCodec", "SIOLoop"],
            swiftSettings: swiftSettings),

        // The C ABI: every export of Include/sio.h, over the Swift API. Built as libsio.so (scripts/build-libsio.sh).
        .target(name: "SIOCABI", dependencies: ["SocketIO", "SocketIORedis", "SocketIORedisStreams"], swiftSettings: swiftSettings),

        .executableTarget(
            name: "sio-protocol-server", dependencies: ["EngineIO", "SocketIO", "WebSocketCodec"], swiftSettings: swiftSettings),

        .executableTarget(
            name: "sio-chat", dependencies: ["SocketIO", "SocketIORedis", "SocketIORedisStreams"], swiftSettings: swiftSettings),
        .executableTarget(name: "sio-bench-server", dependencies: ["SocketIO"], swiftSettings: swiftSettings),
        .executableTarget(
            name: "sio-cluster-node", dependencies: ["SocketIO", "SocketIORedis", "SocketIORedisStreams"],
            swiftSettings: swiftSettings),

        .testTarget(name: "EngineIOCodecTests", dependencies: ["EngineIOCodec"], swiftSettings: swiftSettings),
        .testTarget(name: "WebSocketCodecTests", dependencies: ["WebSocketCodec"], swiftSettings: swiftSettings),
        .testTarget(name: "SocketIOCodecTests", dependencies: ["SocketIOCodec"], swiftSettings: swiftSettings),
        .testTarget(name: "SIOLoopTests", dependencies: ["SIOLoop"], swiftSettings: swiftSettings),
        .testTarget(name: "SIOHTTPTests", dependencies: ["SIOHTTP"], swiftSettings: swiftSettings),
        .testTarget(name: "SocketIOTests", dependencies: ["SocketIO"], swiftSettings: swiftSettings),
        .testTarget(
            name: "SocketIORedisStreamsTests",
            dependencies: ["SocketIORedisStreams", "SocketIORedis", "SocketIO", "MsgPackCodec", "EngineIOCodec"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "SocketIORedisTests", dependencies: ["SocketIORedis", "SocketIO", "MsgPackCodec"], exclude: ["Fixtures"],
            swiftSettings: swiftSettings),
    ]
)
