import SocketIO

public typealias sio_room_event_cb = @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?,
                                                     UnsafeMutableRawPointer?) -> Void

/// `sio_namespace_on_room_event`: the namespace's room changes (the reference adapter's events) to the host.
@_cdecl("sio_namespace_on_room_event")
public func sio_namespace_on_room_event(_ ns: OpaquePointer?, _ callback: sio_room_event_cb?,
                                        _ userData: UnsafeMutableRawPointer?) -> Int32 {
    guard let box = NamespaceBox.from(ns), let callback else { return SIOError.invalidArgument.rawValue }
    guard box.server.mayTouchLoop else { return SIOError.thread.rawValue }
    nonisolated(unsafe) let context = userData
    box.namespace.onRoomEvent { [unowned box] event in
        // SIO_ROOM_CREATED 0, SIO_ROOM_DELETED 1, SIO_ROOM_JOINED 2, SIO_ROOM_LEFT 3
        let (kind, room, socketID): (Int32, String, String?) = switch event {
        case .created(let room): (0, room, nil)
        case .deleted(let room): (1, room, nil)
        case .joined(let room, let socketID): (2, room, socketID)
        case .left(let room, let socketID): (3, room, socketID)
        }
        room.withCString { roomText in
            if let socketID {
                socketID.withCString { callback(box.pointer, kind, roomText, $0, context) }
            } else {
                callback(box.pointer, kind, roomText, nil, context)
            }
        }
    }
    return 0
}
