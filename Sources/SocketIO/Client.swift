import EngineIO
import SIOLoop
import SocketIOCodec

/// One Engine.IO connection and the namespaces multiplexed over it: decodes packets (with their binary
/// attachments), routes them to the socket of their namespace, and writes encoded packets out. A client that joins
/// no namespace within `connectTimeout` is closed. Loop thread only.
///
/// An Engine.IO v3 connection is a Socket.IO 2.x client, served with that protocol's rules as the reference does
/// for `conn.protocol === 3`: it is in `/` from the start (it never sends that CONNECT), a namespace's query is
/// its auth, and a refusal carries the error's data (or message) alone.
final class Client: EngineSocketDelegate, TimerTarget {
    let engine: EngineSocket
    unowned let server: SocketIOServer
    private var decoder: SocketIOPacketDecoder
    /// Joined namespaces. Most clients join one: it is held inline, further ones in a small array (a dictionary,
    /// or even an array for the first, costs an allocation per connection).
    private var firstSocket: Socket?
    private var moreSockets: [Socket] = []

    var sockets: [Socket] {
        guard let firstSocket else { return moreSockets }
        return [firstSocket] + moreSockets
    }

    private var joinsNothing: Bool { firstSocket == nil && moreSockets.isEmpty }
    var timerSlot = TimerSlot()

    init(server: SocketIOServer, engine: EngineSocket) {
        self.server = server
        self.engine = engine
        decoder = SocketIOPacketDecoder(limits: SocketIODecoderLimits(maxAttachments: server.options.maxAttachments))
        engine.delegate = self
        server.loop.schedule(self, afterMilliseconds: server.options.connectTimeout)
        if engine.protocolVersion == .v3 { connect(namespace: "/", auth: nil) }
    }

    var isEIO3: Bool { engine.protocolVersion == .v3 }

    // MARK: Writing

    func write(_ packet: EncodedPacket) {
        for message in packet.messages { engine.send(message) }
    }

    /// A middleware refused the socket: CONNECT_ERROR `{message, data}`, or for a 2.x client what the reference
    /// sends it, `err.data || err.message`.
    func refuse(namespace: String, _ error: MiddlewareError) {
        var payload: [UInt8] = []
        if isEIO3 {
            if let data = error.data, data.isTruthy { data.append(to: &payload) } else {
                JSONScanner.appendQuoted(error.message, to: &payload)
            }
        } else {
            payload = Array("{\"message\":".utf8)
            JSONScanner.appendQuoted(error.message, to: &payload)
            if let data = error.data {
                payload.append(contentsOf: Array(",\"data\":".utf8))
                data.append(to: &payload)
            }
            payload.append(UInt8(ascii: "}"))
        }
        write(EncodedPacket.control(.connectError, namespace: namespace, payload: payload, parser: server.parser))
    }

    // MARK: Namespaces

    private func socket(in namespace: String) -> Socket? {
        if let firstSocket, firstSocket.namespace.name == namespace { return firstSocket }
        return moreSockets.first { $0.namespace.name == namespace }
    }

    func register(_ socket: Socket) {
        if let current = self.socket(in: socket.namespace.name) { unregister(current) }
        if firstSocket == nil { firstSocket = socket } else { moreSockets.append(socket) }
        server.loop.cancelTimer(self)
    }

    func unregister(_ socket: Socket) {
        if firstSocket === socket {
            firstSocket = moreSockets.isEmpty ? nil : moreSockets.removeFirst()
        } else {
            moreSockets.removeAll { $0 === socket }
        }
    }

    /// connectTimeout: the client joined no namespace in time.
    func timerFired(now: UInt64) {
        guard joinsNothing else { return }
        engine.close(reason: .forcedClose)
    }

    /// `socket.disconnect(close: true)`, as the reference's `_disconnect`: every socket gets its DISCONNECT packet
    /// and leaves ("server namespace disconnect"), then the connection closes.
    func disconnectAll() {
        for socket in sockets { socket.disconnect(close: false) }
        engine.close(reason: .forcedClose)
    }

    /// Closes the connection; every socket leaves with `reason`.
    func closeConnection(reason: DisconnectReason) {
        closeSockets(reason)
        engine.close(reason: .forcedClose)
    }

    private func closeSockets(_ reason: DisconnectReason) {
        for socket in sockets { socket.close(reason: reason) }
    }

    // MARK: Engine.IO events

    func engineSocket(_ socket: EngineSocket, didReceiveText text: [UInt8]) {
        // A stopping server takes no more packets: its clients are about to get "server shutting down", and a
        // loop still draining a burst of reads must reach its shutdown without running every handler first.
        guard !server.loop.isStopRequested else { return }
        if let parser = server.parser {
            decode { try parser.decode(text: text) }
            return
        }
        let result: SocketIOPacketDecoder.Result
        do {
            result = try text.withUnsafeBytes { bytes throws(SocketIOCodecError) in try decoder.decode(text: bytes) }
        } catch {
            invalidInput(error)
            return
        }
        if case .packet(let packet) = result { route(packet) }
    }

    func engineSocket(_ socket: EngineSocket, didReceiveBinary data: [UInt8]) {
        guard !server.loop.isStopRequested else { return }
        if let parser = server.parser {
            decode { try parser.decode(binary: data) }
            return
        }
        let result: SocketIOPacketDecoder.Result
        do {
            result = try decoder.decode(binary: data)
        } catch {
            invalidInput(error)
            return
        }
        if case .packet(let packet) = result { route(packet) }
    }

    func engineSocket(_ socket: EngineSocket, didCloseWith reason: EngineCloseReason) {
        server.loop.cancelTimer(self)
        closeSockets(DisconnectReason(rawValue: reason.rawValue) ?? .transportClose)
    }

    /// One packet per message, from a parser other than the built-in JSON one.
    private func decode(_ body: () throws -> SocketIOPacket) {
        do {
            route(try body())
        } catch {
            invalidInput(error)
        }
    }

    /// Bad input closes this connection only, as the reference's client does ("forced close").
    private func invalidInput(_ error: any Error) {
        server.log.debug("closing \(engine.id): invalid packet: \(error)")
        closeConnection(reason: .forcedClose)
    }

    /// As the reference's `ondecoded`: a CONNECT for a namespace not joined, or any other packet for a namespace
    /// joined; anything else (an event before CONNECT, to a refused namespace, a second CONNECT) is a client in an
    /// invalid state and its connection is closed ("forced server close").
    private func route(_ packet: SocketIOPacket) {
        var namespace = packet.namespace
        var queryAuth: [UInt8]?  // Socket.IO v4 (EIO3) clients send the CONNECT's auth as the namespace's query
        if isEIO3 {
            guard let target = EIO3Namespace.parse(namespace) else {
                invalidInput(SocketIOCodecError.invalidNamespace)
                return
            }
            (namespace, queryAuth) = target
        }
        let socket = socket(in: namespace)
        if socket == nil, packet.type == .connect {
            // Read only here: an event's payload stays unread (the msgpack parser keeps it packed).
            connect(namespace: namespace, auth: isEIO3 ? queryAuth : packet.payload)
        } else if let socket, packet.type != .connect, packet.type != .connectError {
            socket.received(packet)
        } else {
            server.log.debug("closing \(engine.id): packet type \(packet.type) invalid in this state")
            closeSockets(.forcedServerClose)
            engine.close(reason: .forcedClose)
        }
    }

    private func connect(namespace name: String, auth: [UInt8]?) {
        guard let namespace = server.namespace(for: name, auth: auth) else {
            // The same object for every client, 2.x included, as the reference's Client.connect sends it.
            write(EncodedPacket.control(.connectError, namespace: name,
                                        payload: Array("{\"message\":\"Invalid namespace\"}".utf8), parser: server.parser))
            return
        }
        namespace.add(client: self, auth: auth)
    }
}
