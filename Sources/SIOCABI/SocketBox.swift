import SocketIO
#if canImport(Glibc)
import Glibc
#endif

public typealias sio_event_cb = @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, OpaquePointer?, OpaquePointer?,
                                                 UnsafeMutableRawPointer?) -> Void
public typealias sio_disconnect_cb = @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void
public typealias sio_ack_cb = @convention(c) (OpaquePointer?, Int32, OpaquePointer?, UnsafeMutableRawPointer?) -> Void

/// The C side of one socket: its handle, the C strings it has handed out, its user data and open ack handles.
/// Owned by the Swift socket (`userData`), so it lives exactly as long as the socket; the handle table only holds
/// it weakly, and a stale handle finds nothing.
final class SocketBox {
    private(set) weak var socket: Socket?
    unowned let server: ServerBox
    /// The socket's loop: its [LOOP] functions must be called there.
    unowned let loop: EventLoop
    /// That loop's index among the server's loops.
    let loopIndex: Int
    private(set) var handle: UInt = 0
    var cUserData: UnsafeMutableRawPointer?
    private var strings: [String: CString] = [:]
    private var ackHandles: Set<UInt> = []

    private init(socket: Socket, server: ServerBox) {
        self.socket = socket
        self.server = server
        loop = socket.server.loop
        loopIndex = socket.server.loopIndex
    }

    /// On the socket's loop thread, or setting up before the loops run.
    var mayTouchSocket: Bool { loop.isInLoopThread || server.currentState == .created }

    /// Runs `work` on the socket's loop: now when there, else queued. False when the server has stopped.
    func onSocketLoop(_ work: @escaping () -> Void) -> Bool {
        if loop.isInLoopThread {
            work()
            return true
        }
        guard !server.isStopping else { return false }
        return loop.execute(work)
    }

    deinit {
        HandleTable.shared.remove(handle, as: SocketBox.self)
        releaseAcks()
    }

    /// The box of `socket`, made on first use.
    static func of(_ socket: Socket, server: ServerBox) -> SocketBox {
        if let existing = socket.userData as? SocketBox { return existing }
        let box = SocketBox(socket: socket, server: server)
        box.handle = HandleTable.shared.addWeak(box)
        socket.userData = box
        socket.onDisconnect { [unowned box] _ in box.releaseAcks() }
        return box
    }

    static func from(_ pointer: OpaquePointer?) -> SocketBox? {
        let handle = HandleTable.handle(pointer)
        guard handle != 0 else { return nil }
        return HandleTable.shared.lookup(handle, as: SocketBox.self)
    }

    var pointer: OpaquePointer? { HandleTable.pointer(handle) }

    /// A C string that lives as long as the socket, cached under `key`.
    func cString(_ key: String, _ make: () -> String?) -> UnsafePointer<CChar>? {
        if let cached = strings[key] { return UnsafePointer(cached.pointer) }
        guard let text = make() else { return nil }
        let string = CString(text)
        strings[key] = string
        return UnsafePointer(string.pointer)
    }

    // MARK: Acks

    func makeAck(_ ack: SocketIOAck) -> OpaquePointer? {
        let handle = HandleTable.shared.addStrong(AckBox(ack: ack, owner: self))
        ackHandles.insert(handle)
        return HandleTable.pointer(handle)
    }

    func forgetAck(_ handle: UInt) { ackHandles.remove(handle) }

    private func releaseAcks() {
        for handle in ackHandles { HandleTable.shared.remove(handle, as: AckBox.self) }
        ackHandles.removeAll()
    }

    // MARK: Delivering to C

    func deliver(_ callback: sio_event_cb, _ event: String, _ arguments: SocketIOArguments, _ ack: SocketIOAck?,
                 _ userData: UnsafeMutableRawPointer?) {
        let ackPointer = ack.map { makeAck($0) } ?? nil
        ArgsBox.with(arguments) { args in
            event.withCString { callback(pointer, $0, args, ackPointer, userData) }
        }
    }
}

/// `sio_ack_t`: a client's acknowledgement request, until sent or until its socket disconnects.
final class AckBox {
    let ack: SocketIOAck
    weak var owner: SocketBox?
    init(ack: SocketIOAck, owner: SocketBox) {
        self.ack = ack
        self.owner = owner
    }
}

/// `sio_args_t`: a view of arguments, valid during one callback.
final class ArgsBox: UnretainedHandle {
    let arguments: SocketIOArguments
    init(_ arguments: SocketIOArguments) { self.arguments = arguments }

    static func with<T>(_ arguments: SocketIOArguments, _ body: (OpaquePointer) -> T) -> T {
        let box = ArgsBox(arguments)
        return withExtendedLifetime(box) { body(box.pointer) }
    }
}

/// Reads `args_json`/`binaries` from C into validated arguments; nil when they are not valid.
func arguments(_ json: UnsafePointer<CChar>?, _ length: Int, _ binaries: UnsafeRawPointer?, _ count: Int) -> SocketIOArguments? {
    guard length >= 0, count >= 0, count <= 10_000, binaries != nil || count == 0 else { return nil }
    var attachments: [[UInt8]] = []
    attachments.reserveCapacity(count)
    // sio_buffer_t is { const uint8_t *data; size_t len; }: two machine words.
    let stride = MemoryLayout<UnsafeRawPointer?>.size + MemoryLayout<Int>.size
    for index in 0..<count {
        let base = binaries! + index * stride
        let data = base.load(as: UnsafeRawPointer?.self)
        let size = base.load(fromByteOffset: MemoryLayout<UnsafeRawPointer?>.size, as: Int.self)
        guard size >= 0, data != nil || size == 0 else { return nil }
        attachments.append(size == 0 ? [] : Array(UnsafeRawBufferPointer(start: data, count: size)))
    }
    guard let json, length > 0 else {
        return attachments.isEmpty ? SocketIOArguments.none : nil
    }
    let bytes = Array(UnsafeRawBufferPointer(start: UnsafeRawPointer(json), count: length))
    return try? SocketIOArguments(json: bytes, attachments: attachments)
}

/// An event name from C: valid UTF-8, not one the protocol reserves.
func eventName(_ pointer: UnsafePointer<CChar>?) -> String? {
    guard let name = swiftString(pointer), !name.isEmpty, !socketIOReservedEvents.contains(name) else { return nil }
    return name
}

// MARK: - Arguments

@_cdecl("sio_args_json")
public func sio_args_json(_ args: OpaquePointer?, _ length: UnsafeMutablePointer<Int>?) -> UnsafePointer<CChar>? {
    guard let box = ArgsBox.from(args) else {
        length?.pointee = 0
        return nil
    }
    length?.pointee = box.arguments.json.count
    return box.arguments.json.withUnsafeBufferPointer {
        UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self)
    }
}

@_cdecl("sio_args_binary_count")
public func sio_args_binary_count(_ args: OpaquePointer?) -> Int {
    ArgsBox.from(args)?.arguments.attachments.count ?? 0
}

@_cdecl("sio_args_binary")
public func sio_args_binary(_ args: OpaquePointer?, _ index: Int, _ length: UnsafeMutablePointer<Int>?) -> UnsafePointer<UInt8>? {
    length?.pointee = 0
    guard let box = ArgsBox.from(args), index >= 0, index < box.arguments.attachments.count else { return nil }
    let attachment = box.arguments.attachments[index]
    length?.pointee = attachment.count
    guard !attachment.isEmpty else { return nil }
    return attachment.withUnsafeBufferPointer { $0.baseAddress }
}

// MARK: - Socket properties

private func loopSocket(_ pointer: OpaquePointer?) -> (SocketBox, Socket)? {
    guard let box = SocketBox.from(pointer), box.mayTouchSocket, let socket = box.socket else { return nil }
    return (box, socket)
}

/// Why `loopSocket` found nothing: the wrong thread (SIO_ETHREAD) or a socket that is gone (SIO_ECLOSED).
private func socketError(_ pointer: OpaquePointer?) -> Int32 {
    if let box = SocketBox.from(pointer), !box.mayTouchSocket { return SIOError.thread.rawValue }
    return SIOError.closed.rawValue
}

/// A live, not yet departed socket on its loop thread, or the error to return.
private func liveSocket(_ pointer: OpaquePointer?) -> Result<(SocketBox, Socket), SIOErrorCode> {
    guard let (box, socket) = loopSocket(pointer) else { return .failure(SIOErrorCode(socketError(pointer))) }
    guard !socket.disconnected else { return .failure(SIOErrorCode(SIOError.closed.rawValue)) }
    return .success((box, socket))
}

struct SIOErrorCode: Error {
    let code: Int32
    init(_ code: Int32) { self.code = code }
}

@_cdecl("sio_socket_id")
public func sio_socket_id(_ pointer: OpaquePointer?) -> UnsafePointer<CChar>? {
    guard let (box, socket) = loopSocket(pointer) else { return nil }
    return box.cString("id") { socket.id }
}

@_cdecl("sio_socket_namespace")
public func sio_socket_namespace(_ pointer: OpaquePointer?) -> UnsafePointer<CChar>? {
    guard let (box, socket) = loopSocket(pointer) else { return nil }
    return box.cString("namespace") { socket.namespace.name }
}

@_cdecl("sio_socket_get_namespace")
public func sio_socket_get_namespace(_ pointer: OpaquePointer?) -> OpaquePointer? {
    guard let (box, socket) = loopSocket(pointer) else { return nil }
    return box.server.namespace(socket.namespace.name).pointer
}

@_cdecl("sio_socket_connected")
public func sio_socket_connected(_ pointer: OpaquePointer?) -> Bool {
    loopSocket(pointer)?.1.connected ?? false
}

@_cdecl("sio_socket_auth")
public func sio_socket_auth(_ pointer: OpaquePointer?, _ length: UnsafeMutablePointer<Int>?) -> UnsafePointer<CChar>? {
    length?.pointee = 0
    guard let (box, socket) = loopSocket(pointer) else { return nil }
    length?.pointee = socket.handshake.auth.count
    return box.cString("auth") { socket.handshake.authText }
}

@_cdecl("sio_socket_query")
public func sio_socket_query(_ pointer: OpaquePointer?, _ name: UnsafePointer<CChar>?) -> UnsafePointer<CChar>? {
    guard let (box, socket) = loopSocket(pointer), let name = swiftString(name) else { return nil }
    return box.cString("q:" + name) { socket.handshake.queryValue(name) }
}

@_cdecl("sio_socket_header")
public func sio_socket_header(_ pointer: OpaquePointer?, _ name: UnsafePointer<CChar>?) -> UnsafePointer<CChar>? {
    guard let (box, socket) = loopSocket(pointer), let name = swiftString(name) else { return nil }
    return box.cString("h:" + name.lowercased()) { socket.handshake.header(name) }
}

@_cdecl("sio_socket_address")
public func sio_socket_address(_ pointer: OpaquePointer?) -> UnsafePointer<CChar>? {
    guard let (box, socket) = loopSocket(pointer) else { return nil }
    return box.cString("address") { socket.handshake.address }
}

@_cdecl("sio_socket_transport")
public func sio_socket_transport(_ pointer: OpaquePointer?) -> UnsafePointer<CChar>? {
    guard let (_, socket) = loopSocket(pointer) else { return nil }
    return cText(socket.transport == .websocket ? "websocket" : "polling")
}

@_cdecl("sio_socket_rooms")
public func sio_socket_rooms(_ pointer: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guard let out else { return SIOError.invalidArgument.rawValue }
    out.pointee = nil
    guard let (_, socket) = loopSocket(pointer) else { return socketError(pointer) }
    return copyOut(JSONValue.array(socket.rooms.sorted().map { .string($0) }).serialize(), to: out)
}

@_cdecl("sio_socket_recovered")
public func sio_socket_recovered(_ pointer: OpaquePointer?) -> Bool {
    loopSocket(pointer)?.1.recovered ?? false
}

@_cdecl("sio_socket_handshake")
public func sio_socket_handshake(_ pointer: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guard let out else { return SIOError.invalidArgument.rawValue }
    out.pointee = nil
    guard let (_, socket) = loopSocket(pointer) else { return socketError(pointer) }
    return copyOut(socket.handshake.json.serialize(), to: out)
}

/// Hands C a NUL-terminated copy of `bytes`, to free with sio_free.
private func copyOut(_ bytes: [UInt8], to out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    guard let memory = malloc(bytes.count + 1)?.assumingMemoryBound(to: CChar.self) else { return SIOError.noMemory.rawValue }
    bytes.withUnsafeBytes { if let base = $0.baseAddress { UnsafeMutableRawPointer(memory).copyMemory(from: base, byteCount: bytes.count) } }
    memory[bytes.count] = 0
    out.pointee = memory
    return 0
}

@_cdecl("sio_socket_set_user_data")
public func sio_socket_set_user_data(_ pointer: OpaquePointer?, _ userData: UnsafeMutableRawPointer?) -> Int32 {
    guard let (box, _) = loopSocket(pointer) else { return socketError(pointer) }
    box.cUserData = userData
    return 0
}

@_cdecl("sio_socket_get_user_data")
public func sio_socket_get_user_data(_ pointer: OpaquePointer?) -> UnsafeMutableRawPointer? {
    loopSocket(pointer)?.0.cUserData
}

// MARK: - Listening

@_cdecl("sio_socket_on")
public func sio_socket_on(_ pointer: OpaquePointer?, _ event: UnsafePointer<CChar>?, _ callback: sio_event_cb?,
                          _ userData: UnsafeMutableRawPointer?) -> Int32 {
    guard let callback, let name = swiftString(event) else { return SIOError.invalidArgument.rawValue }
    guard case .success(let (box, socket)) = liveSocket(pointer) else { return socketError(pointer) }
    nonisolated(unsafe) let context = userData
    socket.on(name) { [unowned box] arguments, ack in box.deliver(callback, name, arguments, ack, context) }
    return 0
}

@_cdecl("sio_socket_on_any")
public func sio_socket_on_any(_ pointer: OpaquePointer?, _ callback: sio_event_cb?,
                              _ userData: UnsafeMutableRawPointer?) -> Int32 {
    guard let callback else { return SIOError.invalidArgument.rawValue }
    guard case .success(let (box, socket)) = liveSocket(pointer) else { return socketError(pointer) }
    nonisolated(unsafe) let context = userData
    socket.onAny { [unowned box] name, arguments, ack in box.deliver(callback, name, arguments, ack, context) }
    return 0
}

private func onLeaving(_ pointer: OpaquePointer?, _ callback: sio_disconnect_cb?, _ userData: UnsafeMutableRawPointer?,
                       register: (Socket, @escaping (DisconnectReason) -> Void) -> Void) -> Int32 {
    guard let callback else { return SIOError.invalidArgument.rawValue }
    guard case .success(let (box, socket)) = liveSocket(pointer) else { return socketError(pointer) }
    nonisolated(unsafe) let context = userData
    register(socket) { [unowned box] reason in
        reason.rawValue.withCString { callback(box.pointer, $0, context) }
    }
    return 0
}

@_cdecl("sio_socket_on_disconnect")
public func sio_socket_on_disconnect(_ pointer: OpaquePointer?, _ callback: sio_disconnect_cb?,
                                     _ userData: UnsafeMutableRawPointer?) -> Int32 {
    onLeaving(pointer, callback, userData) { $0.onDisconnect($1) }
}

@_cdecl("sio_socket_on_disconnecting")
public func sio_socket_on_disconnecting(_ pointer: OpaquePointer?, _ callback: sio_disconnect_cb?,
                                        _ userData: UnsafeMutableRawPointer?) -> Int32 {
    onLeaving(pointer, callback, userData) { $0.onDisconnecting($1) }
}

// MARK: - Acks, emits, rooms

@_cdecl("sio_ack_send")
public func sio_ack_send(_ ack: OpaquePointer?, _ json: UnsafePointer<CChar>?, _ length: Int,
                         _ binaries: UnsafeRawPointer?, _ count: Int) -> Int32 {
    let handle = HandleTable.handle(ack)
    guard handle != 0, let box = HandleTable.shared.lookup(handle, as: AckBox.self) else {
        return SIOError.invalidArgument.rawValue
    }
    guard let owner = box.owner, owner.loop.isInLoopThread else { return SIOError.thread.rawValue }
    HandleTable.shared.remove(handle, as: AckBox.self)
    owner.forgetAck(handle)
    guard let reply = arguments(json, length, binaries, count) else { return SIOError.json.rawValue }
    box.ack.send(reply)
    return 0
}

@_cdecl("sio_socket_emit")
public func sio_socket_emit(_ pointer: OpaquePointer?, _ event: UnsafePointer<CChar>?, _ json: UnsafePointer<CChar>?,
                            _ length: Int, _ binaries: UnsafeRawPointer?, _ count: Int) -> Int32 {
    guard let name = eventName(event) else { return SIOError.invalidArgument.rawValue }
    guard let payload = arguments(json, length, binaries, count) else { return SIOError.json.rawValue }
    guard let box = SocketBox.from(pointer) else { return SIOError.closed.rawValue }
    if box.loop.isInLoopThread, box.socket?.connected != true { return SIOError.closed.rawValue }
    guard box.onSocketLoop({ box.socket?.emit(name, payload) }) else { return SIOError.closed.rawValue }
    return 0
}

@_cdecl("sio_socket_emit_with_ack")
public func sio_socket_emit_with_ack(_ pointer: OpaquePointer?, _ event: UnsafePointer<CChar>?,
                                     _ json: UnsafePointer<CChar>?, _ length: Int, _ binaries: UnsafeRawPointer?,
                                     _ count: Int, _ timeout: UInt32, _ callback: sio_ack_cb?,
                                     _ userData: UnsafeMutableRawPointer?) -> Int32 {
    guard let callback, let name = eventName(event) else { return SIOError.invalidArgument.rawValue }
    guard let payload = arguments(json, length, binaries, count) else { return SIOError.json.rawValue }
    guard let (box, socket) = loopSocket(pointer) else { return socketError(pointer) }
    guard socket.connected else { return SIOError.closed.rawValue }
    nonisolated(unsafe) let context = userData
    let handle = box.pointer
    socket.emit(name, payload, timeout: timeout == 0 ? nil : UInt64(timeout)) { result in
        switch result {
        case .success(let reply):
            ArgsBox.with(reply) { callback(handle, 0, $0, context) }
        case .failure(let error):
            callback(handle, SIOError(error).rawValue, nil, context)
        }
    }
    return 0
}

@_cdecl("sio_socket_join")
public func sio_socket_join(_ pointer: OpaquePointer?, _ room: UnsafePointer<CChar>?) -> Int32 {
    guard let room = swiftString(room) else { return SIOError.invalidArgument.rawValue }
    switch liveSocket(pointer) {
    case .failure(let error): return error.code
    case .success(let (_, socket)):
        socket.join(room)
        return 0
    }
}

@_cdecl("sio_socket_leave")
public func sio_socket_leave(_ pointer: OpaquePointer?, _ room: UnsafePointer<CChar>?) -> Int32 {
    guard let room = swiftString(room) else { return SIOError.invalidArgument.rawValue }
    switch liveSocket(pointer) {
    case .failure(let error): return error.code
    case .success(let (_, socket)):
        socket.leave(room)
        return 0
    }
}

@_cdecl("sio_socket_disconnect")
public func sio_socket_disconnect(_ pointer: OpaquePointer?, _ close: Bool) -> Int32 {
    guard let box = SocketBox.from(pointer) else { return SIOError.closed.rawValue }
    if box.loop.isInLoopThread, box.socket?.connected != true { return SIOError.closed.rawValue }
    guard box.onSocketLoop({ box.socket?.disconnect(close: close) }) else { return SIOError.closed.rawValue }
    return 0
}
