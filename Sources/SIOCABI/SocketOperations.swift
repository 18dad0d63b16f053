import SocketIO

// The reference's io.in(rooms).except(rooms).socketsJoin / socketsLeave / disconnectSockets / fetchSockets.

public typealias sio_fetch_sockets_cb = @convention(c) (Int32, UnsafePointer<CChar>?, Int, UnsafeMutableRawPointer?) -> Void

/// The selection of an operation; nil for an invalid argument. Only SIO_BROADCAST_LOCAL applies to operations.
private func selection(_ ns: OpaquePointer?, _ toRooms: UnsafePointer<UnsafePointer<CChar>?>?, _ toCount: Int,
                       _ exceptRooms: UnsafePointer<UnsafePointer<CChar>?>?, _ exceptCount: Int,
                       _ flags: UInt32) -> (box: NamespaceBox, to: [String], except: [String])? {
    guard let box = NamespaceBox.from(ns), flags & ~0x2 == 0, let to = rooms(toRooms, toCount),
          let except = rooms(exceptRooms, exceptCount) else { return nil }
    return (box, to, except)
}

private func apply(_ selected: (box: NamespaceBox, to: [String], except: [String])?, _ flags: UInt32,
                   _ operation: @escaping (BroadcastOperator) -> Void) -> Int32 {
    guard let (box, to, except) = selected else { return SIOError.invalidArgument.rawValue }
    guard box.server.onLoop({ operation(target(box, to, except, flags)) }) else { return SIOError.closed.rawValue }
    return 0
}

/// A C array of room names (`const char *const *`).
public typealias sio_room_names = UnsafePointer<UnsafePointer<CChar>?>

/// socketsJoin (`joining`) or socketsLeave of `names` for the selection.
private func changeRooms(_ ns: OpaquePointer?, _ toRooms: sio_room_names?, _ toCount: Int, _ exceptRooms: sio_room_names?,
                         _ exceptCount: Int, _ flags: UInt32, _ names: sio_room_names?, _ nameCount: Int,
                         joining: Bool) -> Int32 {
    guard let changed = rooms(names, nameCount) else { return SIOError.invalidArgument.rawValue }
    return apply(selection(ns, toRooms, toCount, exceptRooms, exceptCount, flags), flags) { target in
        if joining { target.socketsJoin(changed) } else { target.socketsLeave(changed) }
    }
}

@_cdecl("sio_namespace_sockets_join")
public func sio_namespace_sockets_join(_ ns: OpaquePointer?, _ toRooms: sio_room_names?, _ toCount: Int,
                                       _ exceptRooms: sio_room_names?, _ exceptCount: Int, _ flags: UInt32,
                                       _ names: sio_room_names?, _ nameCount: Int) -> Int32 {
    changeRooms(ns, toRooms, toCount, exceptRooms, exceptCount, flags, names, nameCount, joining: true)
}

@_cdecl("sio_namespace_sockets_leave")
public func sio_namespace_sockets_leave(_ ns: OpaquePointer?, _ toRooms: sio_room_names?, _ toCount: Int,
                                        _ exceptRooms: sio_room_names?, _ exceptCount: Int, _ flags: UInt32,
                                        _ names: sio_room_names?, _ nameCount: Int) -> Int32 {
    changeRooms(ns, toRooms, toCount, exceptRooms, exceptCount, flags, names, nameCount, joining: false)
}

@_cdecl("sio_namespace_disconnect_sockets")
public func sio_namespace_disconnect_sockets(_ ns: OpaquePointer?, _ toRooms: UnsafePointer<UnsafePointer<CChar>?>?,
                                             _ toCount: Int, _ exceptRooms: UnsafePointer<UnsafePointer<CChar>?>?,
                                             _ exceptCount: Int, _ flags: UInt32, _ close: Bool) -> Int32 {
    apply(selection(ns, toRooms, toCount, exceptRooms, exceptCount, flags), flags) { $0.disconnectSockets(close: close) }
}

@_cdecl("sio_namespace_fetch_sockets")
public func sio_namespace_fetch_sockets(_ ns: OpaquePointer?, _ toRooms: UnsafePointer<UnsafePointer<CChar>?>?,
                                        _ toCount: Int, _ exceptRooms: UnsafePointer<UnsafePointer<CChar>?>?,
                                        _ exceptCount: Int, _ flags: UInt32, _ callback: sio_fetch_sockets_cb?,
                                        _ userData: UnsafeMutableRawPointer?) -> Int32 {
    guard let callback else { return SIOError.invalidArgument.rawValue }
    nonisolated(unsafe) let context = userData
    return apply(selection(ns, toRooms, toCount, exceptRooms, exceptCount, flags), flags) { target in
        target.fetchSockets { sockets in
            withCJSON(.array(sockets.map(\.json))) { callback(0, $0, $1, context) }
        }
    }
}
