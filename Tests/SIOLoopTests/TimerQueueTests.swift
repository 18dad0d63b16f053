import Testing
@testable import SIOLoop

private final class Target: TimerTarget {
    var timerSlot = TimerSlot()
    let name: Int
    init(_ name: Int) { self.name = name }
    func timerFired(now: UInt64) {}
}

@Suite struct TimerQueueTests {
    @Test func popsInDeadlineOrder() {
        var queue = TimerQueue()
        let targets = (0..<200).map(Target.init)
        // A fixed shuffle of deadlines.
        for target in targets { queue.schedule(target, at: UInt64((target.name * 7919) % 1000)) }
        var last: UInt64 = 0
        var popped = 0
        while let due = queue.popDue(now: .max) {
            #expect(due.timerSlot.deadline >= last)
            #expect(!due.timerSlot.isScheduled)
            last = due.timerSlot.deadline
            popped += 1
        }
        #expect(popped == 200)
    }

    @Test func reschedulingAndCancellingKeepTheHeapValid() {
        var queue = TimerQueue()
        let targets = (0..<100).map(Target.init)
        for target in targets { queue.schedule(target, at: UInt64(target.name)) }
        for target in targets where target.name % 3 == 0 { queue.cancel(target) }
        for target in targets where target.name % 3 == 1 { queue.schedule(target, at: UInt64(1000 - target.name)) }
        #expect(queue.count == 66)
        #expect(queue.popDue(now: 1) == nil)  // 0 was cancelled, 1 moved to 999
        var order: [UInt64] = []
        while let due = queue.popDue(now: .max) { order.append(due.timerSlot.deadline) }
        #expect(order == order.sorted())
        #expect(order.count == 66)
    }

    @Test func onlyDueTargetsPop() {
        var queue = TimerQueue()
        let early = Target(1), late = Target(2)
        queue.schedule(late, at: 50)
        queue.schedule(early, at: 10)
        #expect(queue.earliestDeadline == 10)
        #expect(queue.popDue(now: 9) == nil)
        #expect(queue.popDue(now: 10) === early)
        #expect(queue.popDue(now: 49) == nil)
        #expect(queue.popDue(now: 50) === late)
    }
}

@Suite struct LogPatternTests {
    @Test(arguments: [
        ("engine", "engine", true), ("engine*", "engine:ws", true), ("*", "socket.io:server", true),
        ("socket.io*", "engine", false), ("engine", "engine:ws", false), ("*:ws", "engine:ws", true),
    ])
    func matchesLikeTheDebugPackage(_ pattern: String, _ name: String, _ expected: Bool) {
        #expect(Log.matches(pattern, name) == expected)
    }
}
