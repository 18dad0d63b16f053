/// How an object on the hot path (a server every message goes through) registers a shutdown hook without being
/// weakly referenced itself: a weakly referenced Swift object keeps a side table for the rest of its life, and
/// every retain and release of it then takes the slow path (a measurable share of each broadcast delivery, which
/// retains the server). The hook holds the link weakly; the owner keeps the link, so the link dies with it.
public final class ShutdownLink {
    /// What the hook does; capture the owner `unowned`, the link never outlives it.
    public var action: (() -> Void)?

    public init() {}
}

extension EventLoop {
    /// A shutdown hook that runs `link.action` while the link (and so its owner) is alive.
    @discardableResult
    public func addShutdownHook(_ link: ShutdownLink) -> Int {
        addShutdownHook { [weak link] in link?.action?() }
    }
}
