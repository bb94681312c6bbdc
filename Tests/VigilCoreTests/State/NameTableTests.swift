import Testing

@testable import VigilCore

@Suite struct NameTableTests {
    @Test func internsEachNameOnce() {
        var names = NameTable()
        let london = names.intern("London")
        let paris = names.intern("Paris")
        #expect(london != paris)
        #expect(names.intern("London") == london)
        #expect(names.count == 2)
        #expect(names[london] == "London")
        #expect(names[paris] == "Paris")
    }

    @Test func absentNameIsNone() {
        var names = NameTable()
        #expect(names.intern(nil) == NameTable.none)
        #expect(names[NameTable.none] == nil)
        #expect(names.count == 0)
    }

    @Test func fullTableGivesUnknownAndKeepsWhatItHas() {
        var names = NameTable(capacity: 2)
        let a = names.intern("Springfield")
        let b = names.intern("Shelbyville")
        #expect(names.intern("Capital City") == NameTable.unknown)
        #expect(names[NameTable.unknown] == nil)
        #expect(names.count == 2)
        // Names already in the table still resolve.
        #expect(names.intern("Springfield") == a)
        #expect(names[b] == "Shelbyville")
    }
}
