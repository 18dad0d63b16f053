import SocketIO

public typealias sio_broadcast_ack_cb = @convention(c) (Int32, UnsafePointer<OpaquePointer?>?, Int, UnsafeMutableRawPointer?) -> Void

/// Flags of `sio_namespace_broadcast` (SIO_BROADCAST_*).
private let volatileFlag: UInt32 = 0x1, localFlag: UInt32 = 0x2, noCompressFlag: UInt32 = 0x4

/// Reads a C array of room names; nil when any is NULL or not UTF-8.
func rooms(_ list: UnsafePointer<UnsafePointer<CChar>?>?, _ count: Int) -> [String]? {
    guard count >= 0, count <= 100_000, list != nil || count == 0 else { return nil }
    var names: [String] = []
    for index in 0..<count {
        guard let name = swiftString(list![index]) else { return nil }
        names.append(name)
    }
    return names
}

func target(_ box: NamespaceBox, _ to: [String], _ except: [String], _ flags: UInt32) -> BroadcastOperator {
    var target = box.namespace.broadcastOperator.to(to).except(except)
    if flags & volatileFlag != 0 { target = target.volatile }
    if flags & localFlag != 0 { target = target.local }
    if flags & noCompressFlag != 0 { target = target.compress(false) }
    return target
}

@_cdecl("sio_namespace_broadcast")
public func sio_namespace_broadcast(_ ns: OpaquePointer?, _ toRooms: UnsafePointer<UnsafePointer<CChar>?>?, _ toCount: Int,
                                    _ exceptRooms: UnsafePointer<UnsafePointer<CChar>?>?, _ exceptCount: Int,
                                    _ flags: UInt32, _ event: UnsafePointer<CChar>?, _ json: UnsafePointer<CChar>?,
                                    _ length: Int, _ binaries: UnsafeRawPointer?, _ count: Int) -> Int32 {
    guard let box = NamespaceBox.from(ns), let name = eventName(event), flags & ~0x7 == 0,
          let to = rooms(toRooms, toCount), let except = rooms(exceptRooms, exceptCount) else {
        return SIOError.invalidArgument.rawValue
    }
    guard let payload = arguments(json, length, binaries, count) else { return SIOError.json.rawValue }
    guard box.server.onLoop({ target(box, to, except, flags).emit(name, payload) }) else { return SIOError.closed.rawValue }
    return 0
}

@_cdecl("sio_namespace_emit")
public func sio_namespace_emit(_ ns: OpaquePointer?, _ event: UnsafePointer<CChar>?, _ json: UnsafePointer<CChar>?,
                               _ length: Int, _ binaries: UnsafeRawPointer?, _ count: Int) -> Int32 {
    sio_namespace_broadcast(ns, nil, 0, nil, 0, 0, event, json, length, binaries, count)
}

@_cdecl("sio_namespace_broadcast_with_ack")
public func sio_namespace_broadcast_with_ack(_ ns: OpaquePointer?, _ toRooms: UnsafePointer<UnsafePointer<CChar>?>?,
                                             _ toCount: Int, _ exceptRooms: UnsafePointer<UnsafePointer<CChar>?>?,
                                             _ exceptCount: Int, _ flags: UInt32, _ event: UnsafePointer<CChar>?,
                                             _ json: UnsafePointer<CChar>?, _ length: Int,
                                             _ binaries: UnsafeRawPointer?, _ count: Int, _ timeout: UInt32,
                                             _ callback: sio_broadcast_ack_cb?,
                                             _ userData: UnsafeMutableRawPointer?) -> Int32 {
    guard let box = NamespaceBox.from(ns), let callback, let name = eventName(event), timeout > 0, flags & ~0x7 == 0,
          let to = rooms(toRooms, toCount), let except = rooms(exceptRooms, exceptCount) else {
        return SIOError.invalidArgument.rawValue
    }
    guard box.server.mayTouchLoop else { return SIOError.thread.rawValue }
    guard let payload = arguments(json, length, binaries, count) else { return SIOError.json.rawValue }
    nonisolated(unsafe) let context = userData
    target(box, to, except, flags).timeout(UInt64(timeout)).emit(name, payload) { error, replies in
        let boxes = replies.map { ArgsBox($0) }
        let pointers: [OpaquePointer?] = boxes.map { $0.pointer }  // kept alive by `boxes` below
        withExtendedLifetime(boxes) {
            pointers.withUnsafeBufferPointer { buffer in
                callback(SIOError(error).rawValue, buffer.baseAddress, buffer.count, context)
            }
        }
    }
    return 0
}
