import Testing
@testable import VigilWorkload
