import Foundation
import Testing
import VigilTestSupport

@testable import VigilDaemon

/// Replay outputs and snapshot files are written as new, owner-only files, never through a symbolic link
/// someone planted where they go.
@Suite struct FileSinkTests {
    @Test func anOutputIsOwnerOnlyAndRefusesASymbolicLink() throws {
        let directory = try TestPaths.temporaryDirectory("file-sink")
        let victim = directory.appendingPathComponent("victim.txt")
        try "IMPORTANT\n".write(to: victim, atomically: true, encoding: .utf8)
        let planted = directory.appendingPathComponent("dead-letter.jsonl").path
        try FileManager.default.createSymbolicLink(atPath: planted, withDestinationPath: victim.path)
        #expect(throws: FileSink.SinkError.self) { try FileSink(path: planted) }
        #expect(try String(contentsOf: victim, encoding: .utf8) == "IMPORTANT\n")

        let path = directory.appendingPathComponent("decisions.jsonl").path
        let sink = try FileSink(path: path)
        try sink.writeLine(Array("{}".utf8))
        try sink.flush()
        let mode = try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        #expect(mode == 0o600)
    }

    @Test func aSnapshotIsNotWrittenThroughALinkAtItsTemporaryPath() throws {
        let directory = try TestPaths.temporaryDirectory("snapshot-file")
        let victim = directory.appendingPathComponent("victim.txt")
        try "IMPORTANT\n".write(to: victim, atomically: true, encoding: .utf8)
        let path = directory.appendingPathComponent("state.bin").path
        try FileManager.default.createSymbolicLink(
            atPath: path + ".tmp-\(getpid())", withDestinationPath: victim.path)
        try SnapshotFile.writeAtomically(Array("snapshot".utf8), to: path)
        #expect(try String(contentsOf: victim, encoding: .utf8) == "IMPORTANT\n")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "snapshot")
        let mode = try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        #expect(mode == 0o600)
    }
}
