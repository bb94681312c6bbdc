import Foundation
import Testing
import VigilTestSupport

@testable import VigilDaemon

/// Files the tools write whole (`vigil generate`): two spellings of one file are one file, a symbolic
/// link keeps pointing where it did, and what is not a regular file is written in place, never replaced.
@Suite struct OutputPathsTests {
    @Test func twoSpellingsOfOneFileAreOne() throws {
        let directory = try TestPaths.temporaryDirectory("output-paths-spelling")
        let plain = directory.appendingPathComponent("x.json").path
        #expect(OutputPaths.canonical(plain) == OutputPaths.canonical(directory.path + "/./x.json"))
        #expect(
            OutputPaths.canonical(plain)
                == OutputPaths.canonical(directory.path + "/../\(directory.lastPathComponent)/x.json"))
        #expect(OutputPaths.canonical(directory.path + "/missing/x.json") == nil)
    }

    @Test func aLinkIsWrittenThroughAndKept() throws {
        let directory = try TestPaths.temporaryDirectory("output-paths-link")
        let target = directory.appendingPathComponent("target.jsonl")
        try Data("old\n".utf8).write(to: target)
        let link = directory.appendingPathComponent("link.jsonl").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target.path)
        try OutputPaths.write(Array("new\n".utf8), to: link)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == target.path)
        #expect(try String(contentsOf: target, encoding: .utf8) == "new\n")
    }

    /// A FIFO is written in place (what `--out /dev/stdout` into a pipe relies on), a folder refused.
    @Test func aFIFOIsWrittenInPlaceAndAFolderRefused() throws {
        let directory = try TestPaths.temporaryDirectory("output-paths-fifo")
        let fifo = directory.appendingPathComponent("pipe").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let reader = Thread.detachNewThreadReturning { FileHandle(forReadingAtPath: fifo)?.readDataToEndOfFile() }
        try OutputPaths.write(Array("through the pipe\n".utf8), to: fifo)
        #expect(reader.wait() ?? nil == Data("through the pipe\n".utf8))
        var status = stat()
        #expect(stat(fifo, &status) == 0 && status.st_mode & S_IFMT == S_IFIFO)
        #expect(throws: OutputPaths.WriteError.self) { try OutputPaths.write([], to: directory.path) }
    }
}

extension Thread {
    /// Runs `body` on a new thread; `wait()` on the result returns its value.
    fileprivate static func detachNewThreadReturning<T: Sendable>(_ body: @escaping @Sendable () -> T) -> Pending<T> {
        let pending = Pending<T>()
        Thread.detachNewThread { pending.finish(body()) }
        return pending
    }

    fileprivate final class Pending<T: Sendable>: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private var value: T?
        func finish(_ value: T) {
            self.value = value
            done.signal()
        }
        func wait() -> T? {
            _ = done.wait(timeout: .now() + 60)
            return value
        }
    }
}
