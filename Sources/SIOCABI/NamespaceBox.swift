import SocketIO

public typealias sio_connection_cb = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Void
public typealias sio_middleware_cb = @convention(c) (OpaquePointer?, OpaquePointer?, UnsafeMutableRawPointer?) -> Void

/// `sio_namespace_t`: lives as long as its server (which keeps it).
final class NamespaceBox: UnretainedHandle {
    unowned let server: ServerBox
    let namespace: Namespace
    let name: CString

    init(server: ServerBox, namespace: Namespace) {
        self.server = server
        self.namespace = namespace
        name = CString(namespace.name)
    }
}

/// `sio_next_t`: a middleware's continuation, kept in the handle table until `sio_next` consumes it.
final class NextBox {
    let loop: EventLoop
    let next: (MiddlewareError?) -> Void
    init(loop: EventLoop, next: @escaping (MiddlewareError?) -> Void) {
        self.loop = loop
        self.next = next
    }
}

@_cdecl("sio_server_of")
public func sio_server_of(_ server: OpaquePointer?, _ name: UnsafePointer<CChar>?) -> OpaquePointer? {
    guard let box = ServerBox.from(server), let name = swiftString(name), box.mayTouchLoop,
          !name.contains(",") else { return nil }
    return box.namespace(name).pointer
}

@_cdecl("sio_namespace_name")
public func sio_namespace_name(_ ns: OpaquePointer?) -> UnsafePointer<CChar>? {
    guard let box = NamespaceBox.from(ns) else { return nil }
    return UnsafePointer(box.name.pointer)
}

@_cdecl("sio_namespace_on_connection")
public func sio_namespace_on_connection(_ ns: OpaquePointer?, _ callback: sio_connection_cb?,
                                        _ userData: UnsafeMutableRawPointer?) -> Int32 {
    guard let box = NamespaceBox.from(ns), let callback else { return SIOError.invalidArgument.rawValue }
    guard box.server.mayTouchLoop else { return SIOError.thread.rawValue }
    nonisolated(unsafe) let context = userData
    box.namespace.onConnection { [unowned box] socket in
        callback(SocketBox.of(socket, server: box.server).pointer, context)
    }
    return 0
}

@_cdecl("sio_namespace_use")
public func sio_namespace_use(_ ns: OpaquePointer?, _ callback: sio_middleware_cb?,
                              _ userData: UnsafeMutableRawPointer?) -> Int32 {
    guard let box = NamespaceBox.from(ns), let callback else { return SIOError.invalidArgument.rawValue }
    guard box.server.mayTouchLoop else { return SIOError.thread.rawValue }
    nonisolated(unsafe) let context = userData
    box.namespace.use { [unowned box] socket, next in
        let handle = HandleTable.shared.addStrong(NextBox(loop: socket.server.loop, next: next))
        callback(SocketBox.of(socket, server: box.server).pointer, HandleTable.pointer(handle), context)
    }
    return 0
}

@_cdecl("sio_next")
public func sio_next(_ next: OpaquePointer?, _ message: UnsafePointer<CChar>?, _ data: UnsafePointer<CChar>?) -> Int32 {
    let handle = HandleTable.handle(next)
    guard handle != 0, HandleTable.shared.lookup(handle, as: NextBox.self) != nil else {
        return SIOError.invalidArgument.rawValue
    }
    var error: MiddlewareError?
    if let message {
        guard let text = swiftString(message) else { return SIOError.invalidArgument.rawValue }
        var value: JSONValue?
        if let data {
            guard let json = swiftString(data), let parsed = try? JSONValue.parse(json) else { return SIOError.json.rawValue }
            value = parsed
        }
        error = MiddlewareError(text, data: value)
    } else if data != nil {
        return SIOError.invalidArgument.rawValue
    }
    guard let box = HandleTable.shared.remove(handle, as: NextBox.self) else { return SIOError.invalidArgument.rawValue }
    let decision = error
    if box.loop.isInLoopThread {
        box.next(decision)
    } else {
        box.loop.execute { box.next(decision) }
    }
    return 0
}
