#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import Logging
import VigilCore

/// `vigil replay`: runs recorded traffic through the same pipeline as the daemon and writes
/// decisions, alerts and dead letters as JSON lines. Same input and config give identical files,
/// which is what lets on-call engineers compare a threshold change before reloading it.
public struct ReplayRunner {
    public struct Options: Sendable {
        public var configPath: String
        /// A JSONL file, or `-` for standard input.
        public var inputPath: String
        public var outputDirectory: String

        public init(configPath: String, inputPath: String, outputDirectory: String) {
            self.configPath = configPath
            self.inputPath = inputPath
            self.outputDirectory = outputDirectory
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

        public var eventsPerSecond: Double { elapsedSeconds > 0 ? Double(stats.eventsRead) / elapsedSeconds : 0 }
    }

    public enum ReplayError: Error, CustomStringConvertible {
        case input(path: String, reason: String)
        case output(path: String, reason: String)

        public var description: String {
            switch self {
            case .input(let path, let reason): "cannot read \(path): \(reason)"
            case .output(let path, let reason): "cannot write \(path): \(reason)"
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
        return Report(
            stats: pipeline.stats, state: pipeline.engine.figures, globalWindow: loaded.config.engine.globalWindow,
            policyVersion: loaded.policyVersion, elapsedSeconds: elapsed,
            outputFiles: [decisions.path, alerts.path, deadLetters.path], usedPublicDeviceKey: key.isPublicDefault)
    }
}

func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
