extension EventLoop {
    /// Runs `work` once at the end of this loop turn, before output is flushed: lets a layer coalesce everything
    /// that happened during the turn (for example several messages into one polling response). Loop thread.
    public func atEndOfTurn(_ work: @escaping () -> Void) {
        endOfTurn.append(work)
    }
}
