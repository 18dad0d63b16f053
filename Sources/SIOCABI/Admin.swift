import SocketIO

/// `sio_server_instrument`: the admin UI's server side (SocketIO/Admin) from SIO_OPT_ADMIN_* options.
@_cdecl("sio_server_instrument")
public func sio_server_instrument(_ server: OpaquePointer?, _ options: OpaquePointer?) -> Int32 {
    guard let box = ServerBox.from(server) else { return SIOError.invalidArgument.rawValue }
    guard box.mayTouchLoop else { return SIOError.thread.rawValue }
    var admin = AdminOptions()
    if let options {
        guard let settings = optionsBox(options) else { return SIOError.invalidArgument.rawValue }
        admin = settings.admin
        if !settings.adminUsername.isEmpty || !settings.adminPasswordHash.isEmpty {
            guard !settings.adminUsername.isEmpty, !settings.adminPasswordHash.isEmpty else {
                return SIOError.invalidArgument.rawValue
            }
            admin.auth = AdminAuth(username: settings.adminUsername, passwordHash: settings.adminPasswordHash)
        }
    }
    do {
        try box.io.instrument(admin)
    } catch {
        return SIOError.invalidArgument.rawValue
    }
    return SIOError.ok.rawValue
}
