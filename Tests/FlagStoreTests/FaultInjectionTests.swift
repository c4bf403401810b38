import FlagStore
import Foundation
import Testing

@Suite("Fault injection")
struct FaultInjectionTests {
    @Test func aPointDoesNothingWhenTheVariableIsUnset() {
        guard ProcessInfo.processInfo.environment[FaultInjection.variable] == nil else { return }
        FaultInjection.point("apply.mid-transaction")
        FaultInjection.point("anything")
        #expect(Bool(true), "still running")
    }
}
