// Harness `json`: the validating JSON scanner (JSONScanner / JSONScanCore) and the tree parser (JSONValue.parse).
//
// Input: byte 0 picks the nesting limit and the attachment count used for the placeholder check; the rest is the
// JSON text, passed in a heap block of exactly its size (reads past the end are ASan reports).
//
// Checked for every input:
//  - an independent recursive-descent validator (RFC 8259 grammar, UTF-8 by the standard library, nesting limit)
//    agrees with the scanner on validity, and the tree parser agrees with both;
//  - validity is monotonic in the nesting limit; the tree is no deeper than the limit;
//  - parse -> serialize -> parse gives the same tree (except where a literal overflows to Infinity, which
//    serializes as null as JSON.stringify does), serializing is idempotent, and its size stays within what the
//    input justifies (numbers may grow: "1e20" prints as 21 digits);
//  - every number prints (JavaScript layout) as text that parses back to the same Double;
//  - topLevelElements finds exactly the tree's elements, in order, in bounds;
//  - checkPlaceholders / placeholderCount agree with a placeholder model evaluated on the tree;
//  - SocketIOEventArguments.event splits an array starting with a string or number into the tree's name and rest.

let depthChoices = [64, 1, 2, 3, 4, 8, 16, 100]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    let config = data[0]
    let maxDepth = depthChoices[Int(config & 7)]
    let attachmentCount = Int(config >> 3 & 0x0F)
    // The text is the tail of libFuzzer's own exactly-sized buffer.
    let text = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
    checkJSON(text, maxDepth: maxDepth, attachmentCount: attachmentCount)
    return 0
}

func checkJSON(_ text: UnsafeRawBufferPointer, maxDepth: Int, attachmentCount: Int) {
    let bytes = Array(text)
    let scannerError = JSONScanner.validate(text, maxDepth: maxDepth)
    let modelValid = ReferenceJSON.isValid(bytes, maxDepth: maxDepth)
    verbose("json: \(scannerError?.reason ?? "valid")")
    fuzzCheck(
        (scannerError == nil) == modelValid,
        "scanner says \(scannerError?.reason ?? "valid"), reference validator says \(modelValid) (maxDepth \(maxDepth)) for \(hex(bytes))")

    let tree: JSONValue?
    do { tree = try JSONValue.parse(text, maxDepth: maxDepth) } catch {
        fuzzCheck(scannerError != nil, "parse failed (\(error)) but the scanner accepted \(hex(bytes))")
        tree = nil
    }
    // Monotonic in the limit.
    if scannerError == nil {
        fuzzCheck(JSONScanner.validate(text, maxDepth: maxDepth + 1) == nil, "valid at depth \(maxDepth), not above")
    }
    guard let tree else { return }
    fuzzCheck(scannerError == nil, "parse succeeded but the scanner refused: \(scannerError!)")
    fuzzCheck(depth(tree) <= maxDepth, "tree depth \(depth(tree)) over the limit \(maxDepth)")

    // Round trip and canonical form.
    let serialized = tree.serialize()
    fuzzCheck(serialized.count <= 6 * bytes.count + 8, "serialized \(serialized.count) bytes from \(bytes.count)")
    fuzzCheck(JSONScanner.validate(serialized, maxDepth: maxDepth) == nil, "serialized text is invalid: \(hex(serialized))")
    guard let again = try? JSONValue.parse(serialized, maxDepth: maxDepth) else {
        fuzzFail("serialized text does not parse: \(hex(serialized))")
    }
    if !containsInfinity(tree) {
        fuzzCheck(again == tree, "round trip changed the value: \(hex(bytes)) -> \(hex(serialized))")
    }
    fuzzCheck(again.serialize() == serialized, "serialize is not idempotent for \(hex(bytes))")
    checkNumbers(tree)

    // Elements of a top-level array.
    if case .array(let elements) = tree {
        guard let ranges = try? JSONScanner.topLevelElements(text, maxDepth: maxDepth) else {
            fuzzFail("topLevelElements refused a valid array")
        }
        fuzzCheck(ranges.count == elements.count, "\(ranges.count) ranges for \(elements.count) elements")
        var previousEnd = 0
        for (range, element) in zip(ranges, elements) {
            fuzzCheck(range.lowerBound >= previousEnd && range.upperBound <= bytes.count && !range.isEmpty,
                      "element range \(range) out of order or bounds")
            previousEnd = range.upperBound
            let slice = Array(bytes[range])
            fuzzCheck((try? JSONValue.parse(slice, maxDepth: maxDepth)) == element,
                      "element \(hex(slice)) does not parse to the tree's element")
        }
        // An EVENT-shaped array: name and arguments.
        if let first = elements.first, first.stringValue != nil || first.doubleValue != nil {
            guard let split = try? SocketIOEventArguments.event(bytes) else {
                fuzzFail("SocketIOEventArguments.event refused \(hex(bytes))")
            }
            if let name = first.stringValue {
                fuzzCheck(split.name == name, "event name \(split.name) != \(name)")
            } else if let number = first.doubleValue {
                if number.isFinite {
                    fuzzCheck(Double(split.name) == number, "numeric event name \(split.name) is not \(number)")
                } else {
                    fuzzCheck(split.name == (number < 0 ? "-Infinity" : "Infinity"), "name \(split.name)")
                }
            }
            fuzzCheck(split.arguments.count <= bytes.count + 1, "arguments larger than the payload")
            let rest = try? JSONValue.parse(split.arguments, maxDepth: maxDepth)
            fuzzCheck(rest == .array(Array(elements.dropFirst())),
                      "arguments \(hex(split.arguments)) are not the tree's other elements")
        }
    } else {
        fuzzCheck((try? JSONScanner.topLevelElements(text, maxDepth: maxDepth)) == nil,
                  "topLevelElements accepted a non-array")
    }

    // Binary placeholders against a model on the tree. Repeated keys collapse in the tree (the last wins) while
    // the scanner refuses them, so the scanner may be stricter than the model, never looser.
    let modelCount = placeholderModel(tree, attachmentCount: attachmentCount)
    let scannerCount = JSONScanner.placeholderCount(text, attachmentCount: attachmentCount, maxDepth: maxDepth)
    let check = JSONScanner.checkPlaceholders(text, attachmentCount: attachmentCount, maxDepth: maxDepth)
    fuzzCheck((check == nil) == (scannerCount != nil), "checkPlaceholders and placeholderCount disagree")
    if let scannerCount {
        fuzzCheck(modelCount == scannerCount,
                  "placeholders: scanner counts \(scannerCount), model \(String(describing: modelCount)) for \(hex(bytes))")
    }
    if modelCount == nil {
        fuzzCheck(scannerCount == nil, "scanner accepted placeholders the model refuses: \(hex(bytes))")
    }
    if scannerCount != nil {
        fuzzCheck(scannerCount! <= bytes.count / 29, "more placeholders than the text can hold (one takes 29 bytes)")
    }
}

func depth(_ value: JSONValue) -> Int {
    switch value {
    case .array(let elements): return 1 + (elements.map(depth).max() ?? 0)
    case .object(let members): return 1 + (members.map { depth($0.1) }.max() ?? 0)
    default: return 0
    }
}

func containsInfinity(_ value: JSONValue) -> Bool {
    switch value {
    case .number(let x): return x.isInfinite
    case .array(let elements): return elements.contains(where: containsInfinity)
    case .object(let members): return members.contains { containsInfinity($0.1) }
    default: return false
    }
}

/// Every finite number prints as JavaScript would and that text reads back as the same Double.
func checkNumbers(_ value: JSONValue) {
    switch value {
    case .number(let x):
        let text = JSNumberFormatting.string(x)
        if x.isFinite {
            fuzzCheck(Double(text) == x, "number \(x) prints as \(text), which reads back as \(String(describing: Double(text)))")
            fuzzCheck(ReferenceJSON.isValid(Array(text.utf8), maxDepth: 1), "number \(x) prints as \(text), not JSON")
        }
    case .array(let elements): elements.forEach(checkNumbers)
    case .object(let members): members.forEach { checkNumbers($0.1) }
    default: break
    }
}

