import SocketIO
import SocketIORedis

public typealias sio_server_side_event_cb = @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, OpaquePointer?,
                                                            UnsafeMutableRawPointer?) -> Void

/// Events between the servers of a cluster (the reference's `io.serverSideEmit` / `io.on(event)`): Redis only.
@_cdecl("sio_namespace_server_side_emit")
public func sio_namespace_server_side_emit(_ ns: OpaquePointer?, _ event: UnsafePointer<CChar>?,
                                           _ json: UnsafePointer<CChar>?, _ length: Int) -> Int32 {
    guard let box = NamespaceBox.from(ns), let name = eventName(event) else { return SIOError.invalidArgument.rawValue }
    guard let payload = arguments(json, length, nil, 0) else { return SIOError.json.rawValue }
    guard box.namespace.adapter is RedisAdapter else { return SIOError.state.rawValue }
    guard box.server.onLoop({ (box.namespace.adapter as? RedisAdapter)?.serverSideEmit(name, payload) }) else {
        return SIOError.closed.rawValue
    }
    return 0
}

@_cdecl("sio_namespace_on_server_side_emit")
public func sio_namespace_on_server_side_emit(_ ns: OpaquePointer?, _ event: UnsafePointer<CChar>?,
                                              _ callback: sio_server_side_event_cb?,
                                              _ userData: UnsafeMutableRawPointer?) -> Int32 {
    guard let box = NamespaceBox.from(ns), let name = eventName(event), let callback else {
        return SIOError.invalidArgument.rawValue
    }
    guard box.server.mayTouchLoop else { return SIOError.thread.rawValue }
    guard let adapter = box.namespace.adapter as? RedisAdapter else { return SIOError.state.rawValue }
    nonisolated(unsafe) let context = userData
    adapter.onServerSideEmit(name) { [unowned box] arguments, _ in
        ArgsBox.with(arguments) { args in name.withCString { callback(box.pointer, $0, args, context) } }
    }
    return 0
}
