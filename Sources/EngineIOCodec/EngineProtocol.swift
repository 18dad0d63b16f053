/// The Engine.IO protocol revision a session speaks, from the handshake's `EIO` query parameter as the reference
/// reads it: "4" is revision 4 (Engine.IO 4+, Socket.IO 3+ clients), anything else, or none, is revision 3
/// (Engine.IO 3, Socket.IO 2 clients), served only with `allowEIO3`.
public enum EngineProtocol: Sendable, Equatable {
    case v3, v4

    public init(queryValue: String?) {
        self = queryValue == "4" ? .v4 : .v3
    }
}
