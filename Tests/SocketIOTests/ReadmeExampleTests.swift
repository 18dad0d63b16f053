import Foundation
import Testing
import SocketIO
#if canImport(Glibc)
import Glibc
#endif

/// The README's Swift block (the one after `<!-- readme-test: swift -->`), compiled and run here.
///
/// The lines between README-BEGIN and README-END below are the block's from `let io = ...` to
/// `try io.listen(port: port)`, verbatim; the block's other lines (its import, `loop`, `options`, `port` and
/// `loop.run()`) are what `readmeExample`'s parameters and the tests' start and stop stand for.
/// `theReadmeBlockIsThisCode` reads README.md and this file and fails when either changes without the other.
@Suite struct ReadmeExampleTests {
    static func readmeExample(loop: EventLoop, port: Int, options: SocketIOOptions = SocketIOOptions()) throws -> SocketIOServer {
        // README-BEGIN
        let io = SocketIOServer(loop: loop, options: options)
        io.use { socket, next in                        // middleware: sees the auth payload
            let token = (try? JSONValue.parse(socket.handshake.auth))?["token"]?.stringValue
            next(token == nil ? MiddlewareError("not authorized", data: ["code": 401]) : nil)
        }
        io.onConnection { socket in
            socket.join("lobby")
            socket.on("chat message") { arguments, ack in
                io.to("lobby").except(socket.id).emit("chat message", arguments)   // relayed as raw JSON, no re-parse
                ack?.send(true)
            }
            socket.emit("question", SocketIOArguments(["ready?"]), timeout: 5000) { result in
                print(result)                          // .success(arguments) or .failure(.timeout)
            }
        }
        io.sockets.onRoomEvent { event in               // .created / .joined / .left / .deleted (presence lists)
            print(event)
        }
        io.engine.onConnectionError = { error in        // why a client cannot connect (the reference's connection_error)
            print(error.code, error.message, error.contextJSON)   // e.g. unknownSid Session ID unknown {"sid":"..."}
        }
        try io.listen(port: port)
        // README-END
        return io
    }

    /// The README block's lines outside the copy, without comments and blank lines.
    static let readmeOnly = (
        before: ["import SocketIO", "let loop = try EventLoop()", "var options = SocketIOOptions()", "options.loops = 1",
                 "let port = 3000"],
        after: ["loop.run()"])

    static func lines(_ text: Substring) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    static func code(_ line: String) -> String {
        let withoutComment = line.range(of: "//").map { String(line[..<$0.lowerBound]) } ?? line
        return withoutComment.trimmingCharacters(in: .whitespaces)
    }

    @Test func theReadmeBlockIsThisCode() throws {
        let thisFile = URL(fileURLWithPath: #filePath)
        let root = thisFile.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let marker = "<!-- readme-test: swift -->\n```swift\n"
        let start = try #require(readme.range(of: marker), "README.md has no block marked <!-- readme-test: swift -->")
        let end = try #require(readme.range(of: "\n```\n", range: start.upperBound..<readme.endIndex))
        let block = Self.lines(readme[start.upperBound..<end.lowerBound])

        let source = try String(contentsOf: thisFile, encoding: .utf8)
        let begin = try #require(source.range(of: "        // README-BEGIN\n"))
        let finish = try #require(source.range(of: "\n        // README-END\n", range: begin.upperBound..<source.endIndex))
        let copy = Self.lines(source[begin.upperBound..<finish.lowerBound]).map { line in
            line.hasPrefix("        ") ? String(line.dropFirst(8)) : line
        }

        let first = try #require(block.firstIndex(of: copy[0]), "README block lacks: \(copy[0])")
        #expect(first + copy.count <= block.count)
        let shown = Array(block[first..<min(block.count, first + copy.count)])
        for (index, (readmeLine, testLine)) in zip(shown, copy).enumerated() where readmeLine != testLine {
            Issue.record("README.md line \(index + 1) of the copy differs:\n  README: \(readmeLine)\n  test:   \(testLine)")
        }
        #expect(shown.count == copy.count)
        let before = block[..<first].map(Self.code).filter { !$0.isEmpty }
        let after = block[min(block.count, first + copy.count)...].map(Self.code).filter { !$0.isEmpty }
        #expect(before == Self.readmeOnly.before)
        #expect(after == Self.readmeOnly.after)
    }

    @Test func theExampleRunsAsTheReadmeSetsItUp() throws {
        let loop = try EventLoop()
        var options = SocketIOOptions()
        options.loops = 1
        let io = try Self.readmeExample(loop: loop, port: 0, options: options)
        #expect(io.port > 0 && io.shards.count == 1)
        try loop.startThread()
        usleep(20_000)
        loop.stop()
        loop.join()
    }

    @Test func theExampleRunsOnSeveralLoopsBehindOnePort() throws {
        let loop = try EventLoop()
        var options = SocketIOOptions()
        options.loops = 3
        let io = try Self.readmeExample(loop: loop, port: 0, options: options)
        #expect(io.shards.count == 3)
        #expect(io.shards.map(\.loopIndex) == [0, 1, 2])
        #expect(Set(io.shards.map { ObjectIdentifier($0.loop) }).count == 3)
        #expect(io.port > 0)
        try loop.startThread()
        usleep(50_000)
        #expect(io.shards.allSatisfy { $0.loop.hasStarted })
        loop.stop()
        loop.join()  // returns once every loop has ended
        #expect(io.shards.dropFirst().allSatisfy { !$0.loop.execute {} })
    }

    @Test func theExampleListensAndStops() throws {
        let loop = try EventLoop()
        let io = try Self.readmeExample(loop: loop, port: 0)
        #expect(io.port > 0)
        try loop.startThread()
        loop.stop()
        loop.join()
    }

    @Test func argumentsAreValidated() {
        #expect(throws: (any Error).self) { try SocketIOArguments(json: "{\"not\":\"an array\"}") }
        #expect(throws: (any Error).self) { try SocketIOArguments(json: "[1,") }
        #expect(throws: (any Error).self) {
            try SocketIOArguments(json: "[{\"_placeholder\":true,\"num\":1}]", attachments: [[1]])
        }
        #expect((try? SocketIOArguments(json: "[{\"_placeholder\":true,\"num\":0}]", attachments: [[1]])) != nil)
    }
}
