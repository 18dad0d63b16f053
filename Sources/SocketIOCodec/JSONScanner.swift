/// A validating JSON scanner that answers questions about a JSON text without building a tree: is it valid,
/// where are the elements of the top-level array, are the binary placeholders sound. One pass, linear time,
/// iterative (no recursion), no allocation beyond what the answer needs.
///
/// Validity is RFC 8259 as JavaScript's `JSON.parse` applies it (no trailing commas, no leading zeros, only the
/// standard escapes, no raw control characters in strings), plus valid UTF-8, plus a nesting limit. Lone
/// surrogate escapes such as `"\ud800"` are accepted, as `JSON.parse` accepts them.
public enum JSONScanner {
    /// Validates one complete JSON text. Returns nil if it is valid, else an error saying what and where.
    public static func validate(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 64) -> SocketIOCodecError? {
        do {
            _ = try JSONScanCore.scan(bytes, maxDepth: maxDepth)
            return nil
        } catch {
            return error.codecError
        }
    }

    public static func validate(_ bytes: [UInt8], maxDepth: Int = 64) -> SocketIOCodecError? {
        bytes.withUnsafeBytes { validate($0, maxDepth: maxDepth) }
    }

    /// The byte ranges of the elements of a top-level array (whitespace around them excluded). Validates the
    /// whole text; throws if it is invalid or not an array.
    public static func topLevelElements(
        _ bytes: UnsafeRawBufferPointer, maxDepth: Int = 64
    ) throws(SocketIOCodecError) -> [Range<Int>] {
        let result: (summary: JSONScanSummary, elements: [Range<Int>])
        do {
            result = try JSONScanCore.scan(bytes, maxDepth: maxDepth, collectElements: true)
        } catch {
            throw error.codecError
        }
        guard bytes[result.summary.rootStart] == ASCII.openBracket else { throw .notAnArray }
        return result.elements
    }

    public static func topLevelElements(
        _ bytes: [UInt8], maxDepth: Int = 64
    ) throws(SocketIOCodecError) -> [Range<Int>] {
        let outcome: Result<[Range<Int>], SocketIOCodecError> = bytes.withUnsafeBytes { buffer in
            do throws(SocketIOCodecError) {
                return .success(try topLevelElements(buffer, maxDepth: maxDepth))
            } catch {
                return .failure(error)
            }
        }
        return try outcome.get()
    }

    /// Validates the text and its binary placeholders: every object whose `_placeholder` is `true` must be
    /// exactly `{"_placeholder":true,"num":N}` (keys in any order) with N an integer in `0..<attachmentCount`.
    /// Returns nil if all is well, the JSON error if the text is invalid, else "illegal attachments".
    public static func checkPlaceholders(
        _ bytes: UnsafeRawBufferPointer, attachmentCount: Int, maxDepth: Int = 64
    ) -> SocketIOCodecError? {
        do {
            let summary = try JSONScanCore.scan(
                bytes, maxDepth: maxDepth, placeholderLimit: Swift.max(0, attachmentCount)
            ).summary
            return summary.placeholdersValid ? nil : .illegalAttachments
        } catch {
            return error.codecError
        }
    }

    public static func checkPlaceholders(
        _ bytes: [UInt8], attachmentCount: Int, maxDepth: Int = 64
    ) -> SocketIOCodecError? {
        bytes.withUnsafeBytes { checkPlaceholders($0, attachmentCount: attachmentCount, maxDepth: maxDepth) }
    }

    /// The number of placeholder objects in a text whose placeholders are valid, or nil when the text or a
    /// placeholder is invalid.
    public static func placeholderCount(
        _ bytes: UnsafeRawBufferPointer, attachmentCount: Int, maxDepth: Int = 64
    ) -> Int? {
        guard
            let summary = try? JSONScanCore.scan(
                bytes, maxDepth: maxDepth, placeholderLimit: Swift.max(0, attachmentCount)
            ).summary, summary.placeholdersValid
        else { return nil }
        return summary.placeholderCount
    }

    /// Appends `s` as a JSON string literal (quotes included), escaped exactly as JavaScript's `JSON.stringify`
    /// escapes it, for building payloads.
    public static func appendQuoted(_ s: String, to out: inout [UInt8]) {
        JSONStringCoding.appendQuoted(s, to: &out)
    }
}

extension JSONScanner {
    /// Appends valid UTF-8 `bytes` as a JSON string literal, quotes included, as `appendQuoted` writes the String.
    public static func appendQuoted(utf8 bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        JSONStringCoding.appendEscaped(bytes, to: &out)
        out.append(UInt8(ascii: "\""))
    }
}
