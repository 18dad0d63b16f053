/// An object with one deadline in its loop's timer queue.
///
/// Heartbeats, handshake and upgrade timeouts of thousands of connections share one `uv_timer_t`: each object keeps
/// a single entry (the earliest of its own deadlines) in an intrusive binary heap, so scheduling, rescheduling and
/// cancelling are O(log n) and a closed connection leaves nothing behind.
public protocol TimerTarget: AnyObject {
    /// Storage the queue uses; the owner only creates it.
    var timerSlot: TimerSlot { get set }
    /// Called on the loop thread when the deadline has passed. The entry is already removed; schedule again if needed.
    func timerFired(now: UInt64)
}

/// Where a target sits in the heap, and when it is due. Owned by the target, managed by `TimerQueue`.
public struct TimerSlot {
    fileprivate(set) public var deadline: UInt64 = 0
    fileprivate var heapIndex: Int = -1

    public init() {}

    public var isScheduled: Bool { heapIndex >= 0 }
}

/// Min-heap of targets by deadline (milliseconds of the loop clock). Loop thread only.
public struct TimerQueue {
    private var heap: [any TimerTarget] = []

    public init() {}

    public var count: Int { heap.count }
    public var earliestDeadline: UInt64? { heap.first?.timerSlot.deadline }

    /// Schedules or reschedules `target` at `deadline`.
    public mutating func schedule(_ target: any TimerTarget, at deadline: UInt64) {
        let index = target.timerSlot.heapIndex
        if index >= 0 {
            let earlier = deadline < target.timerSlot.deadline
            target.timerSlot.deadline = deadline
            if earlier { siftUp(index) } else { siftDown(index) }
        } else {
            target.timerSlot.deadline = deadline
            target.timerSlot.heapIndex = heap.count
            heap.append(target)
            siftUp(heap.count - 1)
        }
    }

    public mutating func cancel(_ target: any TimerTarget) {
        let index = target.timerSlot.heapIndex
        guard index >= 0 else { return }
        removeAt(index)
    }

    /// Removes and returns the earliest target if it is due at `now`.
    public mutating func popDue(now: UInt64) -> (any TimerTarget)? {
        guard let first = heap.first, first.timerSlot.deadline <= now else { return nil }
        removeAt(0)
        return first
    }

    private mutating func removeAt(_ index: Int) {
        let removed = heap[index]
        removed.timerSlot.heapIndex = -1
        let last = heap.removeLast()
        guard index < heap.count else { return }
        heap[index] = last
        last.timerSlot.heapIndex = index
        if index > 0, last.timerSlot.deadline < heap[(index - 1) / 2].timerSlot.deadline {
            siftUp(index)
        } else {
            siftDown(index)
        }
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        let moving = heap[child]
        let deadline = moving.timerSlot.deadline
        while child > 0 {
            let parent = (child - 1) / 2
            guard deadline < heap[parent].timerSlot.deadline else { break }
            heap[child] = heap[parent]
            heap[child].timerSlot.heapIndex = child
            child = parent
        }
        heap[child] = moving
        moving.timerSlot.heapIndex = child
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        let moving = heap[parent]
        let deadline = moving.timerSlot.deadline
        let count = heap.count
        while true {
            let left = 2 * parent + 1
            guard left < count else { break }
            let right = left + 1
            let smaller = right < count && heap[right].timerSlot.deadline < heap[left].timerSlot.deadline ? right : left
            guard heap[smaller].timerSlot.deadline < deadline else { break }
            heap[parent] = heap[smaller]
            heap[parent].timerSlot.heapIndex = parent
            parent = smaller
        }
        heap[parent] = moving
        moving.timerSlot.heapIndex = parent
    }
}
