#if canImport(Glibc)
import Glibc
#endif

/// Severity of a log line. Raw values are part of the C ABI (`SIO_LOG_*`), do not renumber.
public enum LogLevel: Int32, Comparable, Sendable {
    case error = 0, warn = 1, info = 2, debug = 3

    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }

    public var name: String {
        switch self {
        case .error: return "error"
        case .warn: return "warn"
        case .info: return "info"
        case .debug: return "debug"
        }
    }
}

/// Where log lines go. The default writes to stderr; a host replaces it (the C ABI routes it to a callback).
public typealias LogSink = (_ level: LogLevel, _ component: String, _ message: String) -> Void

/// Logging with a level per component, quiet by default.
///
/// Components are named like the reference server's debug namespaces (`engine`, `engine:ws`, `engine:polling`,
/// `socket.io:server`, `socket.io:socket`, ...). `SIO_DEBUG` (or `DEBUG`, as Node users know it) switches on debug
/// output for matching components: `SIO_DEBUG=engine,socket.io*` or `SIO_DEBUG=*,-engine:polling`. Without it only
/// errors are written. Configuration happens before servers start; reads on the loop thread are then lock-free.
public enum Log {
    nonisolated(unsafe) private static var sink: LogSink = { level, component, message in
        let line = "[sio] \(level.name) \(component): \(message)\n"
        fputs(line, stderr)
    }
    nonisolated(unsafe) private static var patterns: [(pattern: String, enabled: Bool)] = environmentPatterns()
    nonisolated(unsafe) private static var baseLevel: LogLevel = .error
    nonisolated(unsafe) private static var cache: [String: LogLevel] = [:]
    private static let cacheLock = Lock()

    /// Replaces where lines go (for example the host's callback). Call before starting servers.
    public static func setSink(_ newSink: @escaping LogSink) { sink = newSink }

    /// The level for components that no debug pattern names (default `.error`).
    public static func setLevel(_ level: LogLevel) {
        cacheLock.withLock {
            baseLevel = level
            cache.removeAll()
        }
    }

    /// Debug patterns in the `DEBUG` syntax; replaces those read from the environment.
    public static func setDebugPatterns(_ spec: String) {
        cacheLock.withLock {
            patterns = parse(spec)
            cache.removeAll()
        }
    }

    /// The most verbose level written for `component`.
    public static func level(for component: String) -> LogLevel {
        cacheLock.withLock {
            if let known = cache[component] { return known }
            var level = baseLevel
            for entry in patterns where matches(entry.pattern, component) {
                level = entry.enabled ? .debug : baseLevel
            }
            cache[component] = level
            return level
        }
    }

    public static func write(_ level: LogLevel, _ component: String, _ message: String) {
        sink(level, component, message)
    }

    private static func environmentPatterns() -> [(pattern: String, enabled: Bool)] {
        if let spec = getenv("SIO_DEBUG") ?? getenv("DEBUG") { return parse(String(cString: spec)) }
        return []
    }

    private static func parse(_ spec: String) -> [(pattern: String, enabled: Bool)] {
        spec.split(whereSeparator: { $0 == "," || $0 == " " }).map { item in
            item.hasPrefix("-") ? (String(item.dropFirst()), false) : (String(item), true)
        }
    }

    /// `*` matches any run of characters, as in the `debug` package.
    static func matches(_ pattern: String, _ name: String) -> Bool {
        let p = Array(pattern.utf8), n = Array(name.utf8)
        var pi = 0, ni = 0, starP = -1, starN = 0
        while ni < n.count {
            if pi < p.count, p[pi] == UInt8(ascii: "*") {
                starP = pi; starN = ni; pi += 1
            } else if pi < p.count, p[pi] == n[ni] {
                pi += 1; ni += 1
            } else if starP >= 0 {
                pi = starP + 1; starN += 1; ni = starN
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.count
    }
}

/// A component's logger. Cheap to check: the level is resolved once, messages are built only when written.
public struct Logger: Sendable {
    public let component: String
    public let level: LogLevel

    public init(_ component: String) {
        self.component = component
        self.level = Log.level(for: component)
    }

    @inline(__always) public var isDebug: Bool { level >= .debug }

    @inline(__always) public func debug(_ message: @autoclosure () -> String) {
        if level >= .debug { Log.write(.debug, component, message()) }
    }

    @inline(__always) public func info(_ message: @autoclosure () -> String) {
        if level >= .info { Log.write(.info, component, message()) }
    }

    @inline(__always) public func warn(_ message: @autoclosure () -> String) {
        if level >= .warn { Log.write(.warn, component, message()) }
    }

    public func error(_ message: @autoclosure () -> String) {
        Log.write(.error, component, message())
    }
}
