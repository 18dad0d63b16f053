import CCrypt
import SIOLoop
#if canImport(Glibc)
import Glibc
#endif

/// bcrypt verification with libxcrypt's `crypt_rn` (never hand-written), off the loop: a cost-10 hash takes tens
/// of milliseconds, which the loop thread must not spend. Each check runs on a short-lived thread of its own, at
/// most `maxConcurrent` at once (more attempts are refused, so a login storm cannot make threads without bound).
enum Bcrypt {
    static let maxConcurrent = 4
    private static let lock = Lock()
    nonisolated(unsafe) private static var running = 0

    /// True when `hash` is a bcrypt hash libxcrypt can check against.
    static func isValidHash(_ hash: String) -> Bool {
        let bytes = Array(hash.utf8)
        guard bytes.count == 60, ["$2a$", "$2b$", "$2y$"].contains(where: { hash.hasPrefix($0) }) else { return false }
        // libxcrypt itself says whether the setting is usable: hashing an empty phrase with it must work.
        return hashOf("", setting: hash) != nil
    }

    /// Constant-time comparison of `crypt(password, hash)` with `hash`.
    static func matches(_ password: String, hash: String) -> Bool {
        guard let computed = hashOf(password, setting: hash) else { return false }
        let a = Array(computed.utf8), b = Array(hash.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    private static func hashOf(_ phrase: String, setting: String) -> String? {
        let size = MemoryLayout<crypt_data>.size
        let data = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: MemoryLayout<crypt_data>.alignment)
        data.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        defer {
            data.initializeMemory(as: UInt8.self, repeating: 0, count: size)  // the phrase passed through here
            data.deallocate()
        }
        guard let result = crypt_rn(phrase, setting, data, Int32(size)) else { return nil }
        let text = String(cString: result)
        return text.hasPrefix("*") ? nil : text
    }

    /// Checks on a thread of its own; `completion` runs there (false at once when too many checks run).
    static func verify(_ password: String, hash: String, completion: @escaping (Bool) -> Void) {
        let admitted = lock.withLock { () -> Bool in
            guard running < maxConcurrent else { return false }
            running += 1
            return true
        }
        guard admitted else { return completion(false) }
        let job = Job {
            let ok = matches(password, hash: hash)
            lock.withLock { running -= 1 }
            completion(ok)
        }
        var thread = pthread_t()
        let context = Unmanaged.passRetained(job).toOpaque()
        let started = pthread_create(&thread, nil, { context in
            Unmanaged<Job>.fromOpaque(context!).takeRetainedValue().work()
            return nil
        }, context)
        if started == 0 {
            pthread_detach(thread)
        } else {
            Unmanaged<Job>.fromOpaque(context).release()
            lock.withLock { running -= 1 }
            completion(false)
        }
    }

    private final class Job {
        let work: () -> Void
        init(_ work: @escaping () -> Void) { self.work = work }
    }
}
