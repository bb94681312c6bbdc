import Logging
import VigilCore

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// `vigil replay`: runs recorded traffic through the same pipeline as the daemon and writes
/// decisions, alerts and dead letters as JSON lines. Same input and config give identical files,
/// which is what lets on-call engineers compare a threshold change before reloading it.
public struct ReplayRunner {
    public struct Options: Sendable {
        public var configPath: String
        /// A JSONL file, or `-` for standard input.
        public var inputPath: String
        public var outputDirectory: String
        /// A state snapshot to start from (`--state-in`), and where to write the state at the end
        /// (`--state-out`).
        public var stateIn: String?
        public var stateOut: String?

        public init(
            configPath: String, inputPath: String, outputDirectory: String, stateIn: String? = nil,
            stateOut: String? = nil
        ) {
            self.configPath = configPath
            self.inputPath = inputPath
            self.outputDirectory = outputDirectory
            self.stateIn = stateIn
            self.stateOut = stateOut
        }
    }

    public struct Report: Sendable {
        public var stats: PipelineStats
        /// State held at the end, and the global windows as of the newest event.
        public var state: StateFigures
        public var globalWindow: EventDuration
        public var policyVersion: String
        public var elapsedSeconds: Double
        public var outputFiles: [String]
        public var usedPublicDeviceKey: Bool
        /// What `--state-in` and `--state-out` moved, when given.
        public var stateIn: SnapshotTransfer?
        public var stateOut: SnapshotTransfer?

        public var eventsPerSecond: Double { elapsedSeconds > 0 ? Double(stats.eventsRead) / elapsedSeconds : 0 }
    }

    /// A snapshot read or written: its entries, its size, and the seconds taken (file and decoding or
    /// encoding together).
    public struct SnapshotTransfer: Sendable {
        public var entries: Int
        public var bytes: Int
        public var seconds: Double
    }

    public enum ReplayError: Error, CustomStringConvertible {
        case input(path: String, reason: String)
        case output(path: String, reason: String)
        /// The `--state-in` snapshot was refused (corrupt, unknown version, foreign key); nothing ran.
        case stateRefused(path: String, reason: StateSnapshotError)

        public var description: String {
            switch self {
            case .input(let path, let reason): "cannot read \(path): \(reason)"
            case .output(let path, let reason): "cannot write \(path): \(reason)"
            case .stateRefused(let path, let reason): "cannot start from \(path): \(reason)"
            }
        }
    }

    let options: Options
    let logger: Logger
    let environment: [String: String]

    public init(options: Options, logger: Logger, environment: [String: String]) {
        self.options = options
        self.logger = logger
        self.environment = environment
    }

    public func run() throws -> Report {
        let loaded = try ConfigLoader.load(path: options.configPath)
        let enrichment = try EnrichmentLoader.open(loaded.config, logger: logger).enricher
        let key = try DeviceKey.resolve(loaded.config.security, environment: environment, allowPublicDefault: true)
        var pipeline = Pipeline(
            config: loaded.config.core, policyVersion: loaded.policyVersion, enricher: enrichment, deviceKey: key.key)
        var restored: SnapshotTransfer?
        if let stateIn = options.stateIn {
            let started = monotonicSeconds()
            let bytes: [UInt8]
            do { bytes = try SnapshotFile.contents(of: stateIn) } catch {
                throw ReplayError.input(path: stateIn, reason: error.description)
            }
            do {
                let header = try pipeline.restoreState(snapshot: bytes)
                restored = SnapshotTransfer(
                    entries: header.entryCount, bytes: bytes.count, seconds: monotonicSeconds() - started)
                if let digest = header.settingsDigest, digest != loaded.config.core.engine.stateDigest {
                    logger.warning(
                        """
                        state snapshot was written under other window lengths or caps; the windows adopt this config's \
                        from the next event
                        """,
                        metadata: ["path": "\(stateIn)"])
                }
            } catch {
                throw ReplayError.stateRefused(path: stateIn, reason: error)
            }
        }

        if mkdir(options.outputDirectory, 0o755) != 0 && errno != EEXIST {
            throw ReplayError.output(path: options.outputDirectory, reason: String(cString: strerror(errno)))
        }
        let decisions = try FileSink(path: options.outputDirectory + "/decisions.jsonl")
        let alerts = try FileSink(path: options.outputDirectory + "/alerts.jsonl")
        let deadLetters = try FileSink(path: options.outputDirectory + "/dead-letter.jsonl")

        let descriptor: Int32
        let sourceName: String
        if options.inputPath == "-" {
            descriptor = STDIN_FILENO
            sourceName = "-"
        } else {
            descriptor = open(options.inputPath, O_RDONLY | O_CLOEXEC)
            if descriptor < 0 {
                throw ReplayError.input(path: options.inputPath, reason: String(cString: strerror(errno)))
            }
            sourceName = options.inputPath
        }
        defer { if descriptor != STDIN_FILENO { close(descriptor) } }

        let started = monotonicSeconds()
        var outputs: [OutputMessage] = []
        outputs.reserveCapacity(8)
        let reader = LineReader(descriptor: descriptor, keepBytes: loaded.config.input.maxEventBytes)
        try reader.forEachLine { line in
            outputs.removeAll(keepingCapacity: true)
            pipeline.process(
                line.bytes, originalLength: line.fullLength, origin: .file(path: sourceName, line: line.number),
                into: &outputs)
            for message in outputs {
                switch message.stream {
                case .decisions: try decisions.writeLine(message.payload)
                case .alerts: try alerts.writeLine(message.payload)
                case .deadLetters: try deadLetters.writeLine(message.payload)
                }
            }
        }
        try decisions.flush()
        try alerts.flush()
        try deadLetters.flush()
        let elapsed = monotonicSeconds() - started
        var saved: SnapshotTransfer?
        if let stateOut = options.stateOut {
            let started = monotonicSeconds()
            let bytes = pipeline.engine.stateSnapshot()
            do { try SnapshotFile.writeAtomically(bytes, to: stateOut) } catch {
                throw ReplayError.output(path: stateOut, reason: error.description)
            }
            saved = SnapshotTransfer(
                entries: pipeline.engine.stateEntryCount, bytes: bytes.count, seconds: monotonicSeconds() - started)
        }
        return Report(
            stats: pipeline.stats, state: pipeline.engine.figures, globalWindow: loaded.config.engine.globalWindow,
            policyVersion: loaded.policyVersion, elapsedSeconds: elapsed,
            outputFiles: [decisions.path, alerts.path, deadLetters.path], usedPublicDeviceKey: key.isPublicDefault,
            stateIn: restored, stateOut: saved)
    }
}

func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
