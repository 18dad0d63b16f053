extension PerMessageDeflate {
    /// What this server is willing to agree to. The defaults favour memory over ratio: with no context takeover in
    /// either direction no zlib state outlives a message, so idle connections cost nothing, and a broadcast can be
    /// compressed once for every recipient (its bytes do not depend on a connection's history).
    public struct Options: Sendable {
        /// Reset the compressor after each message we send (RFC 7692 7.1.1.1). Sent in every response: a server
        /// may choose this even when the client did not ask.
        public var serverNoContextTakeover: Bool
        /// Ask the client to reset its compressor after each message (7.1.1.2), so we may reset our decompressor.
        /// When false we still agree to it if the client offers it.
        public var clientNoContextTakeover: Bool
        /// Largest window we compress with, 9 to 15 (zlib cannot produce raw deflate with an 8-bit window).
        public var serverMaxWindowBits: Int
        /// Window to ask the client to limit itself to, 8 to 15, when the client says it supports the limit;
        /// nil leaves the client's choice (15) and our decompressor's window at 32 KiB.
        public var clientMaxWindowBits: Int?
        /// zlib compression level, 0 (store) to 9 (smallest); 6 is zlib's default.
        public var compressionLevel: Int
        /// zlib memLevel, 1 to 9: memory of the compressor's hash tables against speed and ratio; 8 is the default.
        public var memoryLevel: Int

        public init(
            serverNoContextTakeover: Bool = true, clientNoContextTakeover: Bool = true, serverMaxWindowBits: Int = 15,
            clientMaxWindowBits: Int? = nil, compressionLevel: Int = 6, memoryLevel: Int = 8
        ) {
            self.serverNoContextTakeover = serverNoContextTakeover
            self.clientNoContextTakeover = clientNoContextTakeover
            self.serverMaxWindowBits = min(max(serverMaxWindowBits, 9), 15)
            self.clientMaxWindowBits = clientMaxWindowBits.map { min(max($0, 8), 15) }
            self.compressionLevel = min(max(compressionLevel, 0), 9)
            self.memoryLevel = min(max(memoryLevel, 1), 9)
        }
    }

    /// The terms both sides agreed to in the handshake.
    public struct Parameters: Equatable, Sendable {
        public var serverNoContextTakeover: Bool
        public var clientNoContextTakeover: Bool
        /// The window we compress with.
        public var serverMaxWindowBits: Int
        /// The window the client compresses with (15 when it was not limited).
        public var clientMaxWindowBits: Int
        /// Whether the response carries `server_max_window_bits` (required when the client offered it).
        var announcesServerWindow: Bool
        /// Whether the response carries `client_max_window_bits` (only allowed when the client offered it).
        var announcesClientWindow: Bool

        public init(
            serverNoContextTakeover: Bool = true, clientNoContextTakeover: Bool = true, serverMaxWindowBits: Int = 15,
            clientMaxWindowBits: Int = 15
        ) {
            self.serverNoContextTakeover = serverNoContextTakeover
            self.clientNoContextTakeover = clientNoContextTakeover
            self.serverMaxWindowBits = min(max(serverMaxWindowBits, 9), 15)
            self.clientMaxWindowBits = min(max(clientMaxWindowBits, 8), 15)
            announcesServerWindow = self.serverMaxWindowBits < 15
            announcesClientWindow = false
        }

        /// The value of the Sec-WebSocket-Extensions response header that accepts the offer.
        public var responseHeaderValue: String {
            var value = "permessage-deflate"
            if serverNoContextTakeover { value += "; server_no_context_takeover" }
            if clientNoContextTakeover { value += "; client_no_context_takeover" }
            if announcesServerWindow { value += "; server_max_window_bits=\(serverMaxWindowBits)" }
            if announcesClientWindow { value += "; client_max_window_bits=\(clientMaxWindowBits)" }
            return value
        }
    }

    /// Picks the first permessage-deflate offer in a Sec-WebSocket-Extensions request header that this server can
    /// accept (RFC 7692 5 and 7.1), or nil when there is none: the connection then runs uncompressed. An offer with
    /// an unknown, repeated or malformed parameter is declined and the next one is tried.
    public static func negotiate(offer header: String, options: Options = Options()) -> Parameters? {
        guard let offers = WebSocketExtensionHeader.parse(header) else { return nil }
        for offer in offers where offer.name.lowercased() == "permessage-deflate" {
            if let parameters = accept(offer, options: options) {
                return parameters
            }
        }
        return nil
    }

    private static func accept(_ offer: WebSocketExtensionOffer, options: Options) -> Parameters? {
        var seen: Set<String> = []
        var serverNoContextTakeover = false
        var clientNoContextTakeover = false
        var serverWindow: Int?
        var clientWindowSupported = false
        var clientWindow: Int?
        for parameter in offer.parameters {
            let name = parameter.name.lowercased()
            guard seen.insert(name).inserted else { return nil }
            switch name {
            case "server_no_context_takeover":
                guard parameter.value == nil else { return nil }
                serverNoContextTakeover = true
            case "client_no_context_takeover":
                guard parameter.value == nil else { return nil }
                clientNoContextTakeover = true
            case "server_max_window_bits":
                guard let value = parameter.value, let bits = windowBits(value) else { return nil }
                serverWindow = bits
            case "client_max_window_bits":
                clientWindowSupported = true
                if let value = parameter.value {
                    guard let bits = windowBits(value) else { return nil }
                    clientWindow = bits
                }
            default:
                return nil
            }
        }
        var agreed = Parameters()
        agreed.serverNoContextTakeover = serverNoContextTakeover || options.serverNoContextTakeover
        agreed.clientNoContextTakeover = clientNoContextTakeover || options.clientNoContextTakeover
        let serverBits = min(serverWindow ?? 15, options.serverMaxWindowBits)
        // The client asked for an 8-bit window, which zlib cannot produce in raw mode: decline this offer.
        guard serverBits >= 9 else { return nil }
        agreed.serverMaxWindowBits = serverBits
        agreed.announcesServerWindow = serverWindow != nil || serverBits < 15
        if clientWindowSupported {
            agreed.clientMaxWindowBits = min(clientWindow ?? 15, options.clientMaxWindowBits ?? 15)
            agreed.announcesClientWindow = clientWindow != nil || options.clientMaxWindowBits != nil
        } else {
            agreed.clientMaxWindowBits = 15
            agreed.announcesClientWindow = false
        }
        return agreed
    }

    /// A window size parameter value: 8 to 15 in decimal without leading zeros (RFC 7692 7.1.2).
    private static func windowBits(_ value: String) -> Int? {
        guard value.utf8.first != UInt8(ascii: "0"), let bits = Int(value), (8...15).contains(bits) else {
            return nil
        }
        return bits
    }
}
