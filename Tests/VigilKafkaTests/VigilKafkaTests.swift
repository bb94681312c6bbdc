import Testing
@testable import VigilKafka
