import Testing

@testable import KibanInfer

@Suite struct WindowPlanTests {
    @Test(arguments: [(10, 6), (11, 6), (100, 64), (63, 64), (62, 64), (5, 3)])
    func windowsCoverEveryInnerTokenWithinTheLimit(inner: Int, limit: Int) {
        let plan = WindowPlan(innerCount: inner, limit: limit)
        var covered = [Int](repeating: 0, count: inner)
        for start in plan.starts {
            #expect(start >= 0 && start + min(plan.width, inner) <= inner)
            for position in start..<min(inner, start + plan.width) { covered[position] += 1 }
        }
        #expect(covered.allSatisfy { $0 >= 1 }, "uncovered positions for \(inner) inner tokens, limit \(limit)")
        let tokens = [0] + (0..<inner).map { 4 + $0 % 20 } + [2]
        for index in plan.starts.indices {
            let window = plan.window(index, of: tokens)
            #expect(window.count <= limit && window.first == 0 && window.last == 2)
        }
    }

    @Test func theMostCentralWindowLeavesTheMostContext() {
        let plan = WindowPlan(innerCount: 20, limit: 10)  // width 8, starts 0, 4, 8, 12
        #expect(plan.starts == [0, 4, 8, 12])
        #expect(plan.mostCentralWindow(for: 0) == 0)
        #expect(plan.mostCentralWindow(for: 7) == 1)
        #expect(plan.mostCentralWindow(for: 19) == 3)
    }

    @Test func tokenBudgetsNeverSplitBelowOneSequence() {
        #expect(BatchLimit.tokens(100).batches([10, 10, 30, 40, 200]) == [0..<3, 3..<4, 4..<5])
        #expect(BatchLimit.sequences(2).batches([1, 1, 1]) == [0..<2, 2..<3])
    }
}
