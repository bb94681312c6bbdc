import Testing
@testable import VigilGeo
