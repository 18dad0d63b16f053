import SocketIO
import SocketIORedis
import SocketIORedisStreams
import WebSocketCodec

/// `sio_options_t`: Socket.IO options being set up from C.
final class OptionsBox: UnretainedHandle {
    var options = SocketIOOptions()
    var storedRecovery = ConnectionStateRecovery()
    var corsCredentials = false
    /// Scale-out over Redis (SIO_OPT_REDIS_*): the adapter is made when the server is created.
    var redisURL: String?
    var redis = RedisAdapterOptions()
    /// The streams adapter instead (SIO_OPT_REDIS_STREAMS_*).
    var redisStreamsURL: String?
    var streams = RedisStreamsAdapterOptions()
    /// The sharded pub/sub adapter instead (SIO_OPT_REDIS_SHARDED_*).
    var redisShardedURL: String?
    var sharded = RedisShardedAdapterOptions()
    /// TLS (SIO_OPT_TLS_*): sources only; files are read when the server listens with TLS or reloads.
    var tls = TLSSettings()
    /// The admin UI (SIO_OPT_ADMIN_*), read by sio_server_instrument.
    var admin = AdminOptions()
    var adminUsername = ""
    var adminPasswordHash = ""
}

/// The TLS options of `sio_options_t`, as set: the default certificate (a file or PEM text each), its key's
/// password, the handshake timeout, and more certificates for SNI (`sio_options_add_tls_certificate`).
struct TLSSettings {
    var certificate: PEMSource?
    var key: PEMSource?
    var password: String?
    var handshakeTimeout: UInt64 = 10_000
    var extra: [TLSCertificate] = []

    var isSet: Bool { certificate != nil || key != nil }

    /// The Swift options, or a TLSError saying what is missing.
    func options() throws -> TLSOptions {
        guard let certificate else {
            throw TLSError(what: "TLS options", source: "", reason: "SIO_OPT_TLS_CERT_FILE (or _PEM) is not set")
        }
        guard let key else {
            throw TLSError(what: "TLS options", source: "", reason: "SIO_OPT_TLS_KEY_FILE (or _PEM) is not set")
        }
        return TLSOptions(certificates: [TLSCertificate(chain: certificate, privateKey: key, password: password)] + extra,
                          handshakeTimeout: handshakeTimeout)
    }
}

@_cdecl("sio_options_new")
public func sio_options_new() -> OpaquePointer? {
    OpaquePointer(Unmanaged.passRetained(OptionsBox()).toOpaque())
}

@_cdecl("sio_options_free")
public func sio_options_free(_ options: OpaquePointer?) {
    guard let options else { return }
    Unmanaged<OptionsBox>.fromOpaque(UnsafeRawPointer(options)).release()
}

func optionsBox(_ pointer: OpaquePointer?) -> OptionsBox? { OptionsBox.from(pointer) }

/// Milliseconds and sizes beyond these are refused as mistakes rather than honoured.
private let maxMilliseconds: UInt64 = 24 * 3600 * 1000
private let maxBytes: UInt64 = 1 << 40

@_cdecl("sio_options_set_uint")
public func sio_options_set_uint(_ pointer: OpaquePointer?, _ key: Int32, _ value: UInt64) -> Int32 {
    guard let box = optionsBox(pointer) else { return SIOError.invalidArgument.rawValue }
    func ms(_ apply: (UInt64) -> Void) -> Int32 {
        guard value <= maxMilliseconds else { return SIOError.invalidArgument.rawValue }
        apply(value)
        return 0
    }
    func bytes(_ apply: (Int) -> Void) -> Int32 {
        guard value <= maxBytes else { return SIOError.invalidArgument.rawValue }
        apply(Int(value))
        return 0
    }
    switch key {
    case 2: return ms { box.options.engine.pingInterval = max($0, 1) }
    case 3: return ms { box.options.engine.pingTimeout = max($0, 1) }
    case 4: return ms { box.options.engine.upgradeTimeout = $0 }
    case 5: return bytes { box.options.engine.maxHttpBufferSize = max($0, 1) }
    case 11: return bytes { box.options.engine.httpCompressionThreshold = $0 == 0 ? nil : $0 }
    case 12: return ms { box.options.connectTimeout = $0 }
    case 13:
        guard value <= 10_000 else { return SIOError.invalidArgument.rawValue }
        box.options.maxAttachments = Int(value)
        return 0
    case 15: return ms { value in
        var recovery = box.options.connectionStateRecovery ?? ConnectionStateRecovery()
        recovery.maxDisconnectionDuration = value
        if box.options.connectionStateRecovery != nil { box.options.connectionStateRecovery = recovery }
        box.pendingRecovery = recovery
    }
    case 17: return bytes { box.options.engine.maxBufferedBytes = $0 }
    case 20: return ms { value in
        box.redis.requestsTimeout = max(value, 1)
        box.streams.requestsTimeout = max(value, 1)
    }
    case 32, 33, 34:
        guard (1...1_000_000_000).contains(value) else { return SIOError.invalidArgument.rawValue }
        switch key {
        case 32: box.streams.streamCount = Int(value)
        case 33: box.streams.maxLen = Int(value)
        default: box.streams.readCount = Int(value)
        }
        return 0
    case 35: return ms { box.streams.blockTimeInMs = $0 }
    case 38: return ms { box.streams.heartbeatInterval = max($0, 1) }
    case 39: return ms { box.streams.heartbeatTimeout = max($0, 1) }
    case 22: return bytes { box.options.engine.perMessageDeflateThreshold = $0 }
    case 23:
        guard value <= UInt64(EngineServer.maxLoops) else { return SIOError.invalidArgument.rawValue }
        box.options.loops = Int(value)
        return 0
    case 45: return ms { box.tls.handshakeTimeout = max($0, 1) }
    default: return SIOError.invalidArgument.rawValue
    }
}

@_cdecl("sio_options_set_bool")
public func sio_options_set_bool(_ pointer: OpaquePointer?, _ key: Int32, _ value: Bool) -> Int32 {
    guard let box = optionsBox(pointer) else { return SIOError.invalidArgument.rawValue }
    switch key {
    case 7: box.options.engine.allowUpgrades = value
    case 25: box.options.engine.allowEIO3 = value
    case 46: box.options.metrics = value
    case 51: box.admin.readonly = value
    case 9:
        // Remembered, and applied when (or if) an origin switches CORS on.
        box.corsCredentials = value
        box.options.engine.cors?.credentials = value
    case 14: box.options.connectionStateRecovery = value ? box.pendingRecovery : nil
    case 21: box.options.engine.perMessageDeflate = value ? PerMessageDeflate.Options() : nil
    case 16:
        box.pendingRecovery.skipMiddlewares = value
        if box.options.connectionStateRecovery != nil { box.options.connectionStateRecovery = box.pendingRecovery }
    default: return SIOError.invalidArgument.rawValue
    }
    return 0
}

@_cdecl("sio_options_set_string")
public func sio_options_set_string(_ pointer: OpaquePointer?, _ key: Int32, _ value: UnsafePointer<CChar>?) -> Int32 {
    guard let box = optionsBox(pointer), let text = swiftString(value) else { return SIOError.invalidArgument.rawValue }
    switch key {
    case 1:
        guard text.hasPrefix("/") else { return SIOError.invalidArgument.rawValue }
        box.options.engine.path = text.hasSuffix("/") ? text : text + "/"
    case 47:
        guard text.hasPrefix("/"), !text.contains("?") else { return SIOError.invalidArgument.rawValue }
        box.options.metricsPath = text
    case 48:
        guard text.hasPrefix("/"), text != "/" else { return SIOError.invalidArgument.rawValue }
        box.admin.namespaceName = text
    case 49: box.adminUsername = text
    case 50: box.adminPasswordHash = text
    case 52: box.admin.serverId = text.isEmpty ? nil : text
    case 53:
        guard let mode = AdminMode(rawValue: text) else { return SIOError.invalidArgument.rawValue }
        box.admin.mode = mode
    case 6:
        var transports = Set<EngineTransportName>()
        for item in text.split(separator: ",") {
            guard let name = EngineTransportName(rawValue: String(item).trimmingCharacters(" ")) else {
                return SIOError.invalidArgument.rawValue
            }
            transports.insert(name)
        }
        guard !transports.isEmpty else { return SIOError.invalidArgument.rawValue }
        box.options.engine.transports = transports
    case 8:
        var cors = box.options.engine.cors ?? CORSOptions(credentials: box.corsCredentials)
        switch text {
        case "*": cors.origin = .any
        case "reflect": cors.origin = .reflect
        default: cors.origin = .list(text.split(separator: ",").map { String($0).trimmingCharacters(" ") })
        }
        box.options.engine.cors = cors
    case 18:
        guard !text.isEmpty else {
            box.redisURL = nil
            return 0
        }
        guard (try? RedisEndpoint(url: text)) != nil else { return SIOError.invalidArgument.rawValue }
        box.redisURL = text
    case 19:
        guard !text.isEmpty else { return SIOError.invalidArgument.rawValue }
        box.redis.key = text
    case 27:
        guard !text.isEmpty else {
            box.redisShardedURL = nil
            return 0
        }
        guard (try? RedisEndpoint(url: text)) != nil else { return SIOError.invalidArgument.rawValue }
        box.redisShardedURL = text
    case 28:
        guard let mode = ShardedSubscriptionMode(rawValue: text) else { return SIOError.invalidArgument.rawValue }
        box.sharded.subscriptionMode = mode
    case 30:
        guard !text.isEmpty else {
            box.redisStreamsURL = nil
            return 0
        }
        guard (try? RedisEndpoint(url: text)) != nil else { return SIOError.invalidArgument.rawValue }
        box.redisStreamsURL = text
    case 31, 36:
        guard !text.isEmpty else { return SIOError.invalidArgument.rawValue }
        if key == 31 { box.streams.streamName = text } else { box.streams.channelPrefix = text }
    case 37: box.streams.sessionKeyPrefix = text
    case 10:
        guard !text.isEmpty else {
            box.options.engine.cookie = nil
            return 0
        }
        var cookie = CookieOptions()
        cookie.name = text
        box.options.engine.cookie = cookie
    case 24:
        guard let balancing = HTTPServerGroup.Balancing(rawValue: text) else { return SIOError.invalidArgument.rawValue }
        box.options.loopBalancing = balancing
    case 26:
        guard let parser = SocketIOOptions.parser(named: text) else { return SIOError.invalidArgument.rawValue }
        box.options.parser = parser
    // TLS: an empty string unsets. Files are read later (sio_server_listen, sio_server_reload_tls); PEM text is
    // copied now.
    case 40: box.tls.certificate = text.isEmpty ? nil : .file(text)
    case 41: box.tls.key = text.isEmpty ? nil : .file(text)
    case 42: box.tls.password = text.isEmpty ? nil : text
    case 43: box.tls.certificate = text.isEmpty ? nil : .text(text)
    case 44: box.tls.key = text.isEmpty ? nil : .text(text)
    default: return SIOError.invalidArgument.rawValue
    }
    return 0
}

@_cdecl("sio_options_add_tls_certificate")
public func sio_options_add_tls_certificate(_ pointer: OpaquePointer?, _ certFile: UnsafePointer<CChar>?,
                                            _ keyFile: UnsafePointer<CChar>?, _ password: UnsafePointer<CChar>?) -> Int32 {
    guard let box = optionsBox(pointer), let cert = swiftString(certFile), let key = swiftString(keyFile),
          !cert.isEmpty, !key.isEmpty else { return SIOError.invalidArgument.rawValue }
    let secret: String?
    if let password {
        guard let text = swiftString(password) else { return SIOError.invalidArgument.rawValue }
        secret = text.isEmpty ? nil : text
    } else {
        secret = nil
    }
    guard box.tls.extra.count < 64 else { return SIOError.invalidArgument.rawValue }
    box.tls.extra.append(TLSCertificate(certificateFile: cert, keyFile: key, password: secret))
    return 0
}

extension OptionsBox {
    /// Recovery settings kept while recovery itself is off, so the order of the setters does not matter.
    var pendingRecovery: ConnectionStateRecovery {
        get { storedRecovery }
        set { storedRecovery = newValue }
    }
}

extension String {
    func trimmingCharacters(_ character: Character) -> String {
        String(drop { $0 == character }.reversed().drop { $0 == character }.reversed())
    }
}
