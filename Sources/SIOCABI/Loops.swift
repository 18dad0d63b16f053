import SocketIO

// Several loops (SIO_OPT_LOOPS): which loop a thread or a socket is on, and running work on a socket's loop.

public typealias sio_socket_task_cb = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Void

@_cdecl("sio_server_loop_count")
public func sio_server_loop_count(_ server: OpaquePointer?) -> Int32 {
    guard let box = ServerBox.from(server) else { return SIOError.invalidArgument.rawValue }
    return Int32(box.loops.count)
}

@_cdecl("sio_server_in_loop")
public func sio_server_in_loop(_ server: OpaquePointer?) -> Bool {
    ServerBox.from(server)?.isOnALoop ?? false
}

@_cdecl("sio_socket_loop_index")
public func sio_socket_loop_index(_ pointer: OpaquePointer?) -> Int32 {
    guard let box = SocketBox.from(pointer) else { return SIOError.closed.rawValue }
    return Int32(box.loopIndex)
}

@_cdecl("sio_socket_in_loop")
public func sio_socket_in_loop(_ pointer: OpaquePointer?) -> Bool {
    SocketBox.from(pointer)?.loop.isInLoopThread ?? false
}

@_cdecl("sio_socket_post")
public func sio_socket_post(_ pointer: OpaquePointer?, _ fn: sio_socket_task_cb?,
                            _ userData: UnsafeMutableRawPointer?) -> Int32 {
    guard let fn else { return SIOError.invalidArgument.rawValue }
    guard let box = SocketBox.from(pointer), box.socket != nil else { return SIOError.closed.rawValue }
    guard !box.server.isStopping else { return SIOError.closed.rawValue }
    nonisolated(unsafe) let context = userData
    let handle = box.pointer
    guard box.loop.execute({ fn(handle, context) }) else { return SIOError.closed.rawValue }
    return 0
}
