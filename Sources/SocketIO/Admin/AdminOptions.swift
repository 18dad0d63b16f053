/// `SocketIOServer.instrument(_:)`: the server side of the official admin UI (@socket.io/admin-ui 0.5), with the
/// reference's option names and defaults.
public struct AdminOptions: Sendable {
    /// The admin namespace the UI connects to.
    public var namespaceName = "/admin"
    /// nil: no authentication (anyone reaching the port sees and, unless `readonly`, acts). Basic: the UI's
    /// username and password, checked against a bcrypt hash.
    public var auth: AdminAuth?
    /// No commands (emit, join, leave, disconnect) from the UI.
    public var readonly = false
    /// This server's id among the UI's servers (default: the host name).
    public var serverId: String?
    /// Development sends every socket, room change and event to the UI; production only the 2-second stats.
    public var mode = AdminMode.development
    /// Milliseconds between two `server_stats` (the reference's 2000).
    public var statsInterval: UInt64 = 2000

    public init() {}
}

public enum AdminMode: String, Sendable {
    case development, production
}

/// The reference's `{type: "basic", username, password}`: `passwordHash` is a bcrypt hash (`$2a$`, `$2b$` or
/// `$2y$`, e.g. from `htpasswd -nbBC 10 "" PASSWORD` or Python's bcrypt), verified with libxcrypt.
public struct AdminAuth: Sendable {
    public var username: String
    public var passwordHash: String

    public init(username: String, passwordHash: String) {
        self.username = username
        self.passwordHash = passwordHash
    }
}

public enum AdminError: Error, Equatable, CustomStringConvertible {
    /// The `passwordHash` is not a bcrypt hash libxcrypt accepts.
    case invalidPasswordHash
    /// The namespace name is empty or is the main namespace.
    case invalidNamespace

    public var description: String {
        switch self {
        case .invalidPasswordHash: return "the password must be a valid bcrypt hash ($2a$, $2b$ or $2y$)"
        case .invalidNamespace: return "the admin namespace must be a name other than /"
        }
    }
}

/// The binaries' admin flags (sio-chat, sio-bench-server), parsed in one place.
extension AdminOptions {
    public static let flags: Set<String> = ["--admin", "--admin-user", "--admin-password-hash", "--admin-mode",
                                            "--admin-readonly"]
    public static let flagsUsage = "[--admin [--admin-user NAME --admin-password-hash HASH] [--admin-mode production] [--admin-readonly]]"
    public static let flagsHelp = """
          --admin            serve the admin UI (@socket.io/admin-ui, https://admin.socket.io) on /admin: development
                             mode, no authentication unless --admin-user is given (docs/OBSERVABILITY.md)
          --admin-user NAME  basic authentication for the admin UI (implies --admin), with
          --admin-password-hash HASH  the password's bcrypt hash ($2b$..., e.g. htpasswd -nbBC 10 "" PASSWORD)
          --admin-mode MODE  development (every socket, room and event; default) or production (stats only)
          --admin-readonly   the UI may look but not emit, join, leave or disconnect
        """

    /// Applies `flag` (one of `flags`; `value` reads its argument) to `options`, made on first use. A message when
    /// its value is wrong.
    public static func apply(_ flag: String, to options: inout AdminOptions?, value: () -> String) -> String? {
        var admin = options ?? AdminOptions()
        var user = admin.auth?.username ?? "", hash = admin.auth?.passwordHash ?? ""
        switch flag {
        case "--admin-user": user = value()
        case "--admin-password-hash": hash = value()
        case "--admin-mode":
            guard let mode = AdminMode(rawValue: value()) else { return "--admin-mode is development or production" }
            admin.mode = mode
        case "--admin-readonly": admin.readonly = true
        default: break
        }
        if !user.isEmpty || !hash.isEmpty { admin.auth = AdminAuth(username: user, passwordHash: hash) }
        options = admin
        return nil
    }

    /// Once every flag was read: a message when the user and the hash are not given together.
    public static func check(_ options: AdminOptions?) -> String? {
        guard let auth = options?.auth, auth.username.isEmpty || auth.passwordHash.isEmpty else { return nil }
        return "--admin-user and --admin-password-hash go together"
    }
}
