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
    /// When the target is due (meaningful while scheduled).
    fileprivate(set) public var deadline: UInt64 = 0
    fileprivate var heapIndex: Int = -1

    public init() {}

    public var isScheduled: Bool { heapIndex >= 0 }
}

/// Min-heap of targets by deadline (milliseconds of the loop clock). Loop thread only. Entries carry their deadline
/// so sifting compares plain integers; a target's slot is written only when it moves.
public struct TimerQueue {
    private struct Entry {
        var deadline: UInt64
        let target: any TimerTarget
    }

    private var heap: [Entry] = []

    public init() {}

    public var count: Int { heap.count }
    public var earliestDeadline: UInt64? { heap.first?.deadline }

    /// Schedules or reschedules `target` at `deadline`.
    public mutating func schedule(_ target: any TimerTarget, at deadline: UInt64) {
        let index = target.timerSlot.heapIndex
        target.timerSlot.deadline = deadline
        if index >= 0 {
            let earlier = deadline < heap[index].deadline
            heap[index].deadline = deadline
            if earlier { siftUp(index) } else { siftDown(index) }
        } else {
            heap.append(Entry(deadline: deadline, target: target))
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
        guard let first = heap.first, first.deadline <= now else { return nil }
        removeAt(0)
        return first.target
    }

    private mutating func removeAt(_ index: Int) {
        heap[index].target.timerSlot.heapIndex = -1
        let last = heap.removeLast()
        guard index < heap.count else { return }
        heap[index] = last
        if index > 0, last.deadline < heap[(index - 1) / 2].deadline {
            siftUp(index)
        } else {
            siftDown(index)
        }
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        let moving = heap[child]
        while child > 0 {
            let parent = (child - 1) / 2
            guard moving.deadline < heap[parent].deadline else { break }
            heap[child] = heap[parent]
            heap[child].target.timerSlot.heapIndex = child
            child = parent
        }
        heap[child] = moving
        moving.target.timerSlot.heapIndex = child
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        let moving = heap[parent]
        let count = heap.count
        while true {
            let left = 2 * parent + 1
            guard left < count else { break }
            let right = left + 1
            let smaller = right < count && heap[right].deadline < heap[left].deadline ? right : left
            guard heap[smaller].deadline < moving.deadline else { break }
            heap[parent] = heap[smaller]
            heap[parent].target.timerSlot.heapIndex = parent
            parent = smaller
        }
        heap[parent] = moving
        moving.target.timerSlot.heapIndex = parent
    }
}
