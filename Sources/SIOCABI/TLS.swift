import SocketIO

public typealias sio_tls_error_cb = @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?,
                                                    UnsafeMutableRawPointer?) -> Void

/// `sio_server_reload_tls`: new connections get the certificates read now; open ones keep theirs.
@_cdecl("sio_server_reload_tls")
public func sio_server_reload_tls(_ server: OpaquePointer?, _ options: OpaquePointer?) -> Int32 {
    guard let box = ServerBox.from(server) else { return SIOError.invalidArgument.rawValue }
    if options != nil {
        guard let settings = optionsBox(options) else { return SIOError.invalidArgument.rawValue }
        return box.reloadTLS(settings.tls)
    }
    return box.reloadTLS(nil)
}

/// `sio_server_on_tls_error`: clients whose TLS handshake failed, timed out or was abandoned.
@_cdecl("sio_server_on_tls_error")
public func sio_server_on_tls_error(_ server: OpaquePointer?, _ callback: sio_tls_error_cb?,
                                    _ userData: UnsafeMutableRawPointer?) -> Int32 {
    guard let box = ServerBox.from(server) else { return SIOError.invalidArgument.rawValue }
    box.setTLSErrorHandler(callback.map { ($0, userData) })
    return 0
}
