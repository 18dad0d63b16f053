import Testing
@testable import WebSocketCodec

/// Negotiating permessage-deflate from a Sec-WebSocket-Extensions offer (RFC 7692 5 and 7.1).
@Suite struct NegotiationTests {
    private let permissive = PerMessageDeflate.Options(serverNoContextTakeover: false, clientNoContextTakeover: false)

    @Test func defaultsAskForNoContextTakeoverBothWays() {
        let agreed = PerMessageDeflate.negotiate(offer: "permessage-deflate")
        #expect(agreed?.responseHeaderValue
            == "permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    }

    @Test func browserOffer() {
        // What Chromium and Firefox send.
        let agreed = PerMessageDeflate.negotiate(offer: "permessage-deflate; client_max_window_bits", options: permissive)
        #expect(agreed?.responseHeaderValue == "permessage-deflate")
        #expect(agreed?.clientMaxWindowBits == 15)
    }

    @Test func clientWindowIsLimitedOnlyWhenTheClientSupportsIt() {
        var options = permissive
        options.clientMaxWindowBits = 10
        #expect(PerMessageDeflate.negotiate(offer: "permessage-deflate; client_max_window_bits", options: options)?
            .responseHeaderValue == "permessage-deflate; client_max_window_bits=10")
        #expect(PerMessageDeflate.negotiate(offer: "permessage-deflate; client_max_window_bits=12", options: options)?
            .clientMaxWindowBits == 10)
        #expect(PerMessageDeflate.negotiate(offer: "permessage-deflate", options: options)?.responseHeaderValue
            == "permessage-deflate")
    }

    @Test func offeredParametersAreEchoed() {
        let agreed = PerMessageDeflate.negotiate(
            offer: "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11",
            options: permissive)
        #expect(agreed?.responseHeaderValue
            == "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11")
        #expect(agreed?.serverMaxWindowBits == 10)
        #expect(agreed?.clientMaxWindowBits == 11)
    }

    @Test func serverWindowOfEightIsDeclinedAndTheNextOfferTaken() {
        #expect(PerMessageDeflate.negotiate(offer: "permessage-deflate; server_max_window_bits=8") == nil)
        let agreed = PerMessageDeflate.negotiate(
            offer: "permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=9",
            options: permissive)
        #expect(agreed?.responseHeaderValue == "permessage-deflate; server_max_window_bits=9")
    }

    @Test(arguments: [
        "permessage-deflate; unknown_parameter", "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; server_no_context_takeover=1", "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=16", "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=010", "permessage-deflate; client_max_window_bits=abc",
        "permessage-deflate; client_max_window_bits=", "x-webkit-deflate-frame", "", "permessage-deflate;;",
        "permessage-deflate; client_max_window_bits=\"10", "permessage-deflate; client_max_window_bits=\"1 0\"",
    ])
    func declined(offer: String) {
        #expect(PerMessageDeflate.negotiate(offer: offer) == nil)
    }

    @Test func quotedValuesAndOtherExtensions() {
        let agreed = PerMessageDeflate.negotiate(
            offer: "x-webkit-deflate-frame, permessage-deflate ;\tclient_max_window_bits=\"12\"", options: permissive)
        #expect(agreed?.responseHeaderValue == "permessage-deflate; client_max_window_bits=12")
    }

    @Test func headerGrammar() {
        let offers = WebSocketExtensionHeader.parse(#"a; x=1; y, b;z="q\"", , c"#)
        #expect(offers == nil) // z's unquoted value `q"` is not a token
        let good = WebSocketExtensionHeader.parse(#"a; x=1; y, b;z="q", , c"#)
        #expect(good == [
            .init(name: "a", parameters: [.init(name: "x", value: "1"), .init(name: "y", value: nil)]),
            .init(name: "b", parameters: [.init(name: "z", value: "q")]),
            .init(name: "c", parameters: []),
        ])
    }
}
