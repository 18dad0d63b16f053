import EngineIO
import SIOHTTP

/// One loop's counts and gauges at one moment, taken on that loop's thread (a value: it crosses threads safely).
public struct LoopMetricsSample: Sendable {
    public let loop: Int
    public let pollingClients: Int
    public let websocketClients: Int
    public let engine: EngineCounters
    public let namespaces: [NamespaceMetricsSample]
}

public struct NamespaceMetricsSample: Sendable {
    public let name: String
    public let sockets: Int
    public let counters: NamespaceCounters
}

extension SocketIOServer {
    /// This loop's sample. On this server's loop thread.
    func metricsSample() -> LoopMetricsSample {
        let clients = engine.clientsByTransport
        let names = namespaceNames.sorted()
        return LoopMetricsSample(
            loop: loopIndex, pollingClients: clients.polling, websocketClients: clients.websocket, engine: engine.counters,
            namespaces: names.compactMap { name in
                existingNamespace(name).map { NamespaceMetricsSample(name: name, sockets: $0.sockets.count, counters: $0.counters) }
            })
    }

    /// Every loop's sample, in loop order, given to `completion` on this server's loop. Each loop takes its own,
    /// on its thread, through its submit queue (a loop that is stopping is left out): nothing is shared or locked.
    /// Call on this server's loop thread.
    public func gatherMetrics(_ completion: @escaping ([LoopMetricsSample]) -> Void) {
        gatherFromLoops({ $0.metricsSample() }, completion: completion)
    }

    /// The metrics in Prometheus' text exposition format 0.0.4, on this server's loop (call on its thread).
    public func metricsText(_ completion: @escaping (String) -> Void) {
        gatherMetrics { samples in
            var builder = PrometheusText(samples: samples)
            var text = builder.render()
            self.adapterHealth { health in
                if let health { text += PrometheusText.render(health) }
                completion(text)
            }
        }
    }

    /// Answers a scrape of `options.metricsPath` on this loop.
    func serveMetrics(_ exchange: HTTPExchange) {
        let method = exchange.request.method
        guard method == "GET" || method == "HEAD" else {
            exchange.respond(HTTPResponse(status: 405, headers: [("Allow", "GET, HEAD")], text: "Method Not Allowed"))
            return
        }
        metricsText { text in
            exchange.respond(HTTPResponse(status: 200, headers: [("Content-Type", PrometheusText.contentType)],
                                          body: method == "HEAD" ? [] : Array(text.utf8)))
        }
    }

    /// The cluster adapter's health (the first loop's, asked there), or nil without one that reports it.
    func adapterHealth(_ completion: @escaping (AdapterHealth?) -> Void) {
        let primary = shards[0]
        let reply: (AdapterHealth?) -> Void = { [loop] health in
            if loop.isInLoopThread { completion(health) } else if !loop.execute({ completion(health) }) { return }
        }
        let ask = {
            let reporter = primary.namespaceNames.sorted().lazy.compactMap {
                primary.existingNamespace($0)?.adapter as? AdapterHealthReporting
            }.first
            guard let reporter else { return reply(nil) }
            reporter.health(reply)
        }
        if primary === self { ask() } else if !primary.loop.execute(ask) { completion(nil) }
    }
}

/// How a cluster adapter stands: its connections and how long a round trip to its server takes now.
public struct AdapterHealth: Sendable {
    /// Each connection by role ("pub", "sub", ...) and whether it is up.
    public var connections: [(role: String, up: Bool)]
    /// A round trip (PING) to the cluster's server measured at this scrape, in seconds; nil when none answered.
    public var lagSeconds: Double?

    public init(connections: [(role: String, up: Bool)], lagSeconds: Double?) {
        self.connections = connections
        self.lagSeconds = lagSeconds
    }
}

/// A cluster adapter that reports its health for metrics (the Redis adapters). Called on its loop; `completion`
/// may run later, on the same loop.
public protocol AdapterHealthReporting: AnyObject {
    func health(_ completion: @escaping (AdapterHealth) -> Void)
}

/// Prometheus' text exposition format 0.0.4: `# HELP`, `# TYPE`, then one line per series.
struct PrometheusText {
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"
    let samples: [LoopMetricsSample]
    private var out = ""

    init(samples: [LoopMetricsSample]) { self.samples = samples }

    mutating func render() -> String {
        out = ""
        out.reserveCapacity(4096)
        family("sio_loops", "gauge", "Event loops serving this server.")
        line("sio_loops", [], UInt64(samples.count))
        family("sio_engine_clients", "gauge", "Open Engine.IO sessions, by loop and transport.")
        for s in samples {
            line("sio_engine_clients", [("loop", "\(s.loop)"), ("transport", "polling")], UInt64(s.pollingClients))
            line("sio_engine_clients", [("loop", "\(s.loop)"), ("transport", "websocket")], UInt64(s.websocketClients))
        }
        counter("sio_engine_connections_total", "Engine.IO sessions opened.") { $0.connections }
        family("sio_engine_disconnections_total", "counter", "Engine.IO sessions closed, by reason.")
        for s in samples {
            for (index, reason) in EngineCloseReason.allCases.enumerated() {
                line("sio_engine_disconnections_total", [("loop", "\(s.loop)"), ("reason", reason.rawValue)],
                     s.engine.disconnections[index])
            }
        }
        counter("sio_engine_packets_received_total", "Engine.IO message packets received.") { $0.packetsIn }
        counter("sio_engine_bytes_received_total", "Payload bytes of the message packets received.") { $0.bytesIn }
        counter("sio_engine_packets_sent_total", "Engine.IO message packets queued for clients.") { $0.packetsOut }
        counter("sio_engine_bytes_sent_total", "Payload bytes of the message packets queued for clients.") { $0.bytesOut }
        counter("sio_engine_volatile_dropped_total", "Volatile packets dropped for a client that could not take them.") {
            $0.volatileDrops
        }
        counter("sio_engine_backpressure_closed_total", "Sessions closed because their undelivered output passed maxBufferedBytes.") {
            $0.backpressureCloses
        }
        counter("sio_engine_upgrades_total", "Polling sessions upgraded to WebSocket.") { $0.upgrades }
        family("sio_engine_handshake_errors_total", "counter", "Requests refused with an Engine.IO error code, by reason.")
        for s in samples {
            for code in EngineErrorCode.allCases {
                line("sio_engine_handshake_errors_total", [("loop", "\(s.loop)"), ("reason", code.metricName)],
                     s.engine.handshakeErrors[code.rawValue])
            }
        }
        family("sio_namespace_sockets", "gauge", "Sockets connected to a namespace, by loop.")
        for s in samples {
            for n in s.namespaces { line("sio_namespace_sockets", [("loop", "\(s.loop)"), ("namespace", n.name)], UInt64(n.sockets)) }
        }
        namespaceCounter("sio_namespace_connections_total", "Sockets that joined the namespace.") { $0.connections }
        family("sio_namespace_disconnections_total", "counter", "Sockets that left the namespace, by reason.")
        for s in samples {
            for n in s.namespaces {
                for (index, reason) in DisconnectReason.allCases.enumerated() {
                    line("sio_namespace_disconnections_total",
                         [("loop", "\(s.loop)"), ("namespace", n.name), ("reason", reason.rawValue)],
                         n.counters.disconnections[index])
                }
            }
        }
        namespaceCounter("sio_broadcasts_total", "Broadcasts emitted from this loop.") { $0.broadcasts }
        namespaceCounter("sio_broadcast_deliveries_total", "Broadcast packets handed to this loop's sockets.") { $0.deliveries }
        namespaceCounter("sio_acks_timed_out_total", "Acknowledgements that did not arrive in time.") { $0.acksTimedOut }
        family("sio_recoveries_total", "counter", "Clients that came back with a session (connection state recovery), by result.")
        for s in samples {
            for n in s.namespaces {
                let labels = [("loop", "\(s.loop)"), ("namespace", n.name)]
                line("sio_recoveries_total", labels + [("result", "recovered")], n.counters.recovered)
                line("sio_recoveries_total", labels + [("result", "not_recovered")], n.counters.notRecovered)
            }
        }
        return out
    }

    static func render(_ health: AdapterHealth) -> String {
        var text = PrometheusText(samples: [])
        text.family("sio_adapter_connection_up", "gauge", "The cluster adapter's connections to its server (1 up, 0 down).")
        for connection in health.connections { text.line("sio_adapter_connection_up", [("role", connection.role)], connection.up ? 1 : 0) }
        text.family("sio_adapter_lag_seconds", "gauge", "A round trip to the cluster adapter's server, measured at this scrape (NaN: no answer).")
        text.out += "sio_adapter_lag_seconds " + (health.lagSeconds.map { "\($0)" } ?? "NaN") + "\n"
        return text.out
    }

    private mutating func counter(_ name: String, _ help: String, _ value: (EngineCounters) -> UInt64) {
        family(name, "counter", help)
        for s in samples { line(name, [("loop", "\(s.loop)")], value(s.engine)) }
    }

    private mutating func namespaceCounter(_ name: String, _ help: String, _ value: (NamespaceCounters) -> UInt64) {
        family(name, "counter", help)
        for s in samples {
            for n in s.namespaces { line(name, [("loop", "\(s.loop)"), ("namespace", n.name)], value(n.counters)) }
        }
    }

    private mutating func family(_ name: String, _ type: String, _ help: String) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    private mutating func line(_ name: String, _ labels: [(String, String)], _ value: UInt64) {
        out += name
        if !labels.isEmpty {
            out += "{"
            for (index, label) in labels.enumerated() {
                if index > 0 { out += "," }
                out += label.0 + "=\"" + PrometheusText.escape(label.1) + "\""
            }
            out += "}"
        }
        out += " \(value)\n"
    }

    /// A label value: backslash, double quote and line feed escaped, as the format requires.
    static func escape(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == 0x5C || $0 == 0x22 || $0 == 0x0A }) else { return value }
        var result = ""
        for character in value.unicodeScalars {
            switch character {
            case "\\": result += "\\\\"
            case "\"": result += "\\\""
            case "\n": result += "\\n"
            default: result.unicodeScalars.append(character)
            }
        }
        return result
    }
}

/// The metrics path on a router (a server that also serves other pages): answered by the router's loop's shard.
final class MetricsRoute: HTTPServerHandler {
    unowned let server: SocketIOServer
    init(server: SocketIOServer) { self.server = server }

    func httpServer(handle exchange: HTTPExchange) { server.serveMetrics(exchange) }

    func httpServer(upgrade: HTTPUpgrade) {
        upgrade.connection.write(WebSocketHandshake.refusal(status: 400, message: "Bad Request"))
        upgrade.connection.close()
    }
}
