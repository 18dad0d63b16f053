import SIOLoop
import SocketIO
import SocketIORedis

public typealias sio_server_side_event_cb = @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, OpaquePointer?,
                                                            OpaquePointer?, UnsafeMutableRawPointer?) -> Void
public typealias sio_server_side_ack_cb = @convention(c) (Int32, UnsafePointer<CChar>?, Int, UnsafeMutableRawPointer?) -> Void

// Events between the servers of a cluster (the reference's `io.serverSideEmit` / `io.on(event)`): either Redis adapter.

private func redisAdapter(_ box: NamespaceBox) -> (any ClusterAdapter)? { box.namespace.adapter as? any ClusterAdapter }

@_cdecl("sio_namespace_server_side_emit")
public func sio_namespace_server_side_emit(_ ns: OpaquePointer?, _ event: UnsafePointer<CChar>?,
                                           _ json: UnsafePointer<CChar>?, _ length: Int) -> Int32 {
    guard let box = NamespaceBox.from(ns), let name = eventName(event) else { return SIOError.invalidArgument.rawValue }
    guard let payload = arguments(json, length, nil, 0) else { return SIOError.json.rawValue }
    guard redisAdapter(box) != nil else { return SIOError.state.rawValue }
    guard box.server.onFirstLoop({ redisAdapter(box)?.serverSideEmit(name, payload) }) else { return SIOError.closed.rawValue }
    return 0
}

@_cdecl("sio_namespace_server_side_emit_with_ack")
public func sio_namespace_server_side_emit_with_ack(_ ns: OpaquePointer?, _ event: UnsafePointer<CChar>?,
                                                    _ json: UnsafePointer<CChar>?, _ length: Int, _ timeout: UInt32,
                                                    _ callback: sio_server_side_ack_cb?,
                                                    _ userData: UnsafeMutableRawPointer?) -> Int32 {
    guard let box = NamespaceBox.from(ns), let name = eventName(event), let callback, timeout > 0 else {
        return SIOError.invalidArgument.rawValue
    }
    guard box.server.mayTouchLoop else { return SIOError.thread.rawValue }
    guard let payload = arguments(json, length, nil, 0) else { return SIOError.json.rawValue }
    guard let adapter = redisAdapter(box) else { return SIOError.state.rawValue }
    nonisolated(unsafe) let context = userData
    // The cluster adapter lives on the first loop; the callback runs there.
    let queued = box.server.onFirstLoop {
        adapter.serverSideEmit(name, payload, timeout: UInt64(timeout)) { error, replies in
            withCJSON(.array(replies)) { callback(SIOError(error).rawValue, $0, $1, context) }
        }
    }
    return queued ? 0 : SIOError.closed.rawValue
}

@_cdecl("sio_namespace_on_server_side_emit")
public func sio_namespace_on_server_side_emit(_ ns: OpaquePointer?, _ event: UnsafePointer<CChar>?,
                                              _ callback: sio_server_side_event_cb?,
                                              _ userData: UnsafeMutableRawPointer?) -> Int32 {
    guard let box = NamespaceBox.from(ns), let name = eventName(event), let callback else {
        return SIOError.invalidArgument.rawValue
    }
    guard box.server.mayTouchLoop else { return SIOError.thread.rawValue }
    guard let adapter = redisAdapter(box) else { return SIOError.state.rawValue }
    let holdFor = adapter.requestsTimeout
    nonisolated(unsafe) let context = userData
    // Registered on the first loop, where other servers' events arrive (once per process).
    guard box.server.onFirstLoop({ adapter.onServerSideEmit(name) { [unowned box] arguments, ack in
        let handle = ack.map { ServerAckBox.register($0, loop: box.server.loop, holdFor: holdFor) }
        ArgsBox.with(arguments) { args in
            name.withCString { callback(box.pointer, $0, args, handle.flatMap(HandleTable.pointer), context) }
        }
    } }) else { return SIOError.closed.rawValue }
    return 0
}

@_cdecl("sio_server_ack_send")
public func sio_server_ack_send(_ ack: OpaquePointer?, _ json: UnsafePointer<CChar>?, _ length: Int) -> Int32 {
    let handle = HandleTable.handle(ack)
    guard handle != 0, let box = HandleTable.shared.lookup(handle, as: ServerAckBox.self) else {
        return SIOError.invalidArgument.rawValue
    }
    guard box.loop.isInLoopThread else { return SIOError.thread.rawValue }
    box.release()
    if json == nil || length == 0 {
        box.ack.send(nil)
        return 0
    }
    // Consumed even when invalid, as sio_ack_send: nothing is sent and that server's answer is missing.
    guard length > 0, let value = try? JSONValue.parse(Array(UnsafeRawBufferPointer(start: json, count: length))) else {
        return SIOError.json.rawValue
    }
    box.ack.send(value)
    return 0
}

/// `sio_server_ack_t`: a server-side acknowledgement in the handle table until it is sent, or until the requester
/// stopped waiting (its requests timeout), so an unanswered one does not stay forever.
final class ServerAckBox: TimerTarget {
    let ack: ServerSideAck
    unowned let loop: EventLoop
    private var handle: UInt = 0
    var timerSlot = TimerSlot()

    private init(ack: ServerSideAck, loop: EventLoop) {
        self.ack = ack
        self.loop = loop
    }

    static func register(_ ack: ServerSideAck, loop: EventLoop, holdFor milliseconds: UInt64) -> UInt {
        let box = ServerAckBox(ack: ack, loop: loop)
        box.handle = HandleTable.shared.addStrong(box)
        loop.schedule(box, afterMilliseconds: milliseconds)
        return box.handle
    }

    func release() {
        loop.cancelTimer(self)
        HandleTable.shared.remove(handle, as: ServerAckBox.self)
    }

    func timerFired(now: UInt64) {
        HandleTable.shared.remove(handle, as: ServerAckBox.self)
    }
}
