import SocketIO

public typealias sio_connection_error_cb = @convention(c) (OpaquePointer?, OpaquePointer?, Int32, UnsafePointer<CChar>?,
                                                           UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void

/// `sio_server_on_connection_error`: the engine's refusals (the reference's `connection_error`) to the host.
@_cdecl("sio_server_on_connection_error")
public func sio_server_on_connection_error(_ server: OpaquePointer?, _ callback: sio_connection_error_cb?,
                                           _ userData: UnsafeMutableRawPointer?) -> Int32 {
    guard let box = ServerBox.from(server) else { return SIOError.invalidArgument.rawValue }
    guard box.mayTouchLoop else { return SIOError.thread.rawValue }
    guard let callback else {
        box.io.engine.onConnectionError = nil
        return 0
    }
    box.io.engine.onConnectionError = { [unowned box] error in
        // Answered already: the request box has no exchange, so sio_http_respond refuses with SIO_ESTATE.
        let request = HTTPRequestBox(request: error.request)
        withExtendedLifetime(request) {
            error.message.withCString { message in
                error.contextJSON.withCString { context in
                    callback(box.pointer, request.pointer, Int32(error.code.rawValue), message, context, userData)
                }
            }
        }
    }
    return 0
}
