/// Close codes (RFC 6455 7.4.1). A struct rather than an enum so that application codes (3000-4999) and codes
/// registered after RFC 6455 can be carried without a catch-all case.
public struct WebSocketCloseCode: RawRepresentable, Equatable, Hashable, Sendable {
    public var rawValue: UInt16

    public init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    public static let normal = WebSocketCloseCode(rawValue: 1000)
    public static let goingAway = WebSocketCloseCode(rawValue: 1001)
    public static let protocolError = WebSocketCloseCode(rawValue: 1002)
    public static let unsupportedData = WebSocketCloseCode(rawValue: 1003)
    /// The payload did not match the message type, e.g. a text message that is not UTF-8.
    public static let invalidPayload = WebSocketCloseCode(rawValue: 1007)
    public static let policyViolation = WebSocketCloseCode(rawValue: 1008)
    public static let messageTooBig = WebSocketCloseCode(rawValue: 1009)
    public static let internalError = WebSocketCloseCode(rawValue: 1011)

    /// Whether a peer may put this code on the wire in a close frame.
    ///
    /// 1004 is reserved, and 1005, 1006 and 1015 are pseudo-codes meant only for reporting ("no code", "abnormal
    /// closure", "TLS failure"); 0-999 and 1016-2999 are unassigned or reserved for future RFCs. 1012-1014
    /// (service restart, try again later, bad gateway) were registered with IANA after RFC 6455 and browsers send
    /// them, so they are accepted like the `ws` library does; 3000-4999 belong to libraries and applications.
    public var isValidOnTheWire: Bool {
        switch rawValue {
        case 1000...1003, 1007...1014, 3000...4999: return true
        default: return false
        }
    }
}
