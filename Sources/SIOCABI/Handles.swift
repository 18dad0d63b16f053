#if canImport(Glibc)
import Glibc
#endif
import SIOLoop

/// Handles given to C for objects whose life C does not control (sockets, acks, middleware continuations): a
/// number that is never reused, looked up under a lock. A stale handle finds nothing, so using a socket after it
/// disconnected returns SIO_ECLOSED instead of touching freed memory.
final class HandleTable: @unchecked Sendable {
    static let shared = HandleTable()

    private enum Entry {
        case weak(WeakObject)
        case strong(AnyObject)
    }

    private final class WeakObject {
        weak var object: AnyObject?
        init(_ object: AnyObject) { self.object = object }
    }

    private let lock = Lock()
    private var next: UInt = 1
    private var entries: [UInt: Entry] = [:]

    /// Registers an object the table does not keep alive (it unregisters itself when it goes).
    func addWeak(_ object: AnyObject) -> UInt { add(.weak(WeakObject(object))) }
    /// Registers an object the table keeps alive until `remove`.
    func addStrong(_ object: AnyObject) -> UInt { add(.strong(object)) }

    private func add(_ entry: Entry) -> UInt {
        lock.withLock {
            let handle = next
            next += 1
            entries[handle] = entry
            return handle
        }
    }

    func lookup<T: AnyObject>(_ handle: UInt, as type: T.Type) -> T? {
        lock.withLock {
            switch entries[handle] {
            case .weak(let box): return box.object as? T
            case .strong(let object): return object as? T
            case nil: return nil
            }
        }
    }

    @discardableResult
    func remove<T: AnyObject>(_ handle: UInt, as type: T.Type) -> T? {
        lock.withLock {
            switch entries.removeValue(forKey: handle) {
            case .weak(let box): return box.object as? T
            case .strong(let object): return object as? T
            case nil: return nil
            }
        }
    }

    static func pointer(_ handle: UInt) -> OpaquePointer? { OpaquePointer(bitPattern: handle) }
    static func handle(_ pointer: OpaquePointer?) -> UInt {
        guard let pointer else { return 0 }
        return UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(pointer)))
    }
}

/// An object handed to C as an unretained pointer whose life Swift controls (a server, a namespace, a request or
/// arguments during a callback).
protocol UnretainedHandle: AnyObject {}

extension UnretainedHandle {
    var pointer: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }

    static func from(_ pointer: OpaquePointer?) -> Self? {
        guard let pointer else { return nil }
        return Unmanaged<Self>.fromOpaque(UnsafeRawPointer(pointer)).takeUnretainedValue()
    }
}

/// A C string owned by Swift, freed with its owner.
final class CString {
    let pointer: UnsafeMutablePointer<CChar>

    init(_ text: String) {
        pointer = strdupSwift(text)
    }

    deinit { free(pointer) }
}

func strdupSwift(_ text: String) -> UnsafeMutablePointer<CChar> {
    text.withCString { strdup($0)! }
}

/// Reads a C string argument: nil for NULL or invalid UTF-8.
func swiftString(_ pointer: UnsafePointer<CChar>?) -> String? {
    guard let pointer else { return nil }
    return String(validatingCString: pointer)
}
