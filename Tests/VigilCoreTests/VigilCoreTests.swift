import Testing
@testable import VigilCore
