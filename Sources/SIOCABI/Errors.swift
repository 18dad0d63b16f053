#if canImport(Glibc)
import Glibc
#endif
import SIOLoop
import SocketIO

/// The error table of `sio.h` (SIO_ERRNO_MAP). Codes are ABI: never renumber.
enum SIOError: Int32, CaseIterable {
    case ok = 0, invalidArgument = -1, state = -2, closed = -3, json = -4, listen = -5, thread = -6, timeout = -7,
         noMemory = -8, internalError = -9

    var name: StaticString {
        switch self {
        case .ok: return "SIO_OK"
        case .invalidArgument: return "SIO_EINVAL"
        case .state: return "SIO_ESTATE"
        case .closed: return "SIO_ECLOSED"
        case .json: return "SIO_EJSON"
        case .listen: return "SIO_ELISTEN"
        case .thread: return "SIO_ETHREAD"
        case .timeout: return "SIO_ETIMEOUT"
        case .noMemory: return "SIO_ENOMEM"
        case .internalError: return "SIO_EINTERNAL"
        }
    }

    var message: StaticString {
        switch self {
        case .ok: return "success"
        case .invalidArgument: return "invalid argument"
        case .state: return "not possible in the current state"
        case .closed: return "socket disconnected or server stopped"
        case .json: return "arguments are not a valid JSON array, or placeholders do not match the attachments"
        case .listen: return "cannot listen on that address"
        case .thread: return "must be called on the server's loop thread"
        case .timeout: return "operation has timed out"
        case .noMemory: return "out of memory"
        case .internalError: return "internal error"
        }
    }

    /// The status C gets for how a wait for acknowledgements ended: all answered, timed out, or cut short.
    init(_ outcome: SocketIOError?) {
        switch outcome {
        case nil: self = .ok
        case .timeout?: self = .timeout
        default: self = .closed
        }
    }
}

/// A static string as C reads it (static strings are NUL-terminated UTF-8 that lives forever).
func cText(_ text: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self)
}

/// Calls `body` with `json` as a NUL-terminated C string and its length (without the NUL), borrowed for the call.
func withCJSON(_ json: JSONValue, _ body: (UnsafePointer<CChar>?, Int) -> Void) {
    var text = json.serialize()
    let length = text.count
    text.append(0)
    text.withUnsafeBufferPointer { bytes in bytes.withMemoryRebound(to: CChar.self) { body($0.baseAddress, length) } }
}

let versionString: StaticString = "0.5.0"
let versionNumber: Int32 = 500

@_cdecl("sio_version")
public func sio_version() -> UnsafePointer<CChar> {
    cText(versionString)
}

@_cdecl("sio_version_number")
public func sio_version_number() -> Int32 { versionNumber }

@_cdecl("sio_strerror")
public func sio_strerror(_ code: Int32) -> UnsafePointer<CChar> {
    cText(SIOError(rawValue: code)?.message ?? "unknown error")
}

@_cdecl("sio_err_name")
public func sio_err_name(_ code: Int32) -> UnsafePointer<CChar> {
    cText(SIOError(rawValue: code)?.name ?? "SIO_EUNKNOWN")
}

@_cdecl("sio_free")
public func sio_free(_ pointer: UnsafeMutableRawPointer?) {
    free(pointer)
}

public typealias sio_log_cb = @convention(c) (Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void

@_cdecl("sio_set_log_callback")
public func sio_set_log_callback(_ callback: sio_log_cb?, _ userData: UnsafeMutableRawPointer?) {
    guard let callback else {
        Log.setSink { level, component, message in
            fputs("[sio] \(level.name) \(component): \(message)\n", stderr)
        }
        return
    }
    nonisolated(unsafe) let context = userData
    Log.setSink { level, component, message in
        component.withCString { c in message.withCString { m in callback(level.rawValue, c, m, context) } }
    }
}

@_cdecl("sio_set_log_level")
public func sio_set_log_level(_ level: Int32) {
    Log.setLevel(LogLevel(rawValue: min(max(level, 0), 3)) ?? .error)
}
