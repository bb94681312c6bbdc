import Logging
import VigilCore

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// `vigil replay`: runs recorded traffic through the staged topology of the daemon in one process
/// (`PartitionedPipeline`: decode, then the user, source and domain stages, each with `partitions`
/// shards) and writes decisions, alerts, dead letters and the Security Event Tokens' claims (unsigned:
/// with `ssf.enabled`) as JSON lines. Same input and config give
/// identical files whatever the partition count, which is what lets on-call engineers compare a
/// threshold change before reloading it.
public struct ReplayRunner {
    /// What to replay and where to write it.
    public struct Options: Sendable {
        /// The configuration file, loaded as `vigil run` loads it.
        public var configPath: String
        /// A JSONL file, or `-` for standard input.
        public var inputPath: String
        /// Receives `decisions.jsonl`, `alerts.jsonl`, `dead-letter.jsonl` and `signals.jsonl`, replacing
        /// existing ones.
        public var outputDirectory: String
        /// A state snapshot to start from (`--state-in`); nil starts with empty state.
        public var stateIn: String?
        /// Where to write the state at the end (`--state-out`); nil writes none.
        public var stateOut: String?
        /// The time the replay takes as now (`--now`); nil takes the wall clock at its start. No recorded
        /// event is more than `input.max_future_skew` after it (see `DecodeStage.accept`).
        public var now: Timestamp?
        /// Shards per keyed stage (`--partitions`), routed with Kafka's default partitioner as a
        /// deployment with that many partitions per repartition topic would; the outputs are the same
        /// for every count. Snapshots (`stateIn`, `stateOut`) need 1.
        public var partitions: Int
        /// The records' format (`--format`): Vigil's contract, or an identity provider's records; nil
        /// reads the first line of the file to tell (`InputFormat.detect`), Vigil's contract when it
        /// cannot (an unknown or ambiguous shape, or standard input, which is read only once).
        public var format: InputFormat?

        /// A replay of `inputPath` under `configPath` into `outputDirectory`, optionally starting from
        /// and ending with a state snapshot, and with a fixed time for now.
        public init(
            configPath: String, inputPath: String, outputDirectory: String, stateIn: String? = nil,
            stateOut: String? = nil, now: Timestamp? = nil, partitions: Int = 1, format: InputFormat? = .vigil
        ) {
            self.format = format
            self.configPath = configPath
            self.inputPath = inputPath
            self.outputDirectory = outputDirectory
            self.stateIn = stateIn
            self.stateOut = stateOut
            self.now = now
            self.partitions = partitions
        }
    }

    /// What a replay did, for its summary.
    public struct Report: Sendable {
        /// Counts over the whole input.
        public var stats: PipelineStats
        /// State held at the end, and the global windows as of the newest event.
        public var state: StateFigures
        /// The span of the global windows in `state`.
        public var globalWindow: EventDuration
        /// The version stamped on every decision written.
        public var policyVersion: String
        /// Wall-clock time of the run (not event time).
        public var elapsedSeconds: Double
        /// The files written, in stream order.
        public var outputFiles: [String]
        /// True when no device key was configured, so device hashes used the public key.
        public var usedPublicDeviceKey: Bool
        /// What `--state-in` read, when given.
        public var stateIn: SnapshotTransfer?
        /// What `--state-out` wrote, when given.
        public var stateOut: SnapshotTransfer?
        /// The format the records were read as.
        public var format: InputFormat
        /// True when no `--format` was given and the first record's shape named `format`.
        public var formatDetected: Bool

        /// Throughput in events per wall-clock second; 0 for an instant run.
        public var eventsPerSecond: Double { elapsedSeconds > 0 ? Double(stats.eventsRead) / elapsedSeconds : 0 }
    }

    /// A snapshot read or written: its entries, its size, and the seconds taken (file and decoding or
    /// encoding together).
    public struct SnapshotTransfer: Sendable {
        /// Entries read or written.
        public var entries: Int
        /// Size of the snapshot file in bytes.
        public var bytes: Int
        /// Wall-clock seconds, file and decoding or encoding together.
        public var seconds: Double
    }

    /// Why a replay could not read its input, write its outputs or start from its snapshot.
    public enum ReplayError: Error, CustomStringConvertible {
        case input(path: String, reason: String)
        case output(path: String, reason: String)
        /// The `--state-in` snapshot was refused (corrupt, unknown version, foreign key); nothing ran.
        case stateRefused(path: String, reason: StateSnapshotError)
        /// `--partitions` other than 1 with `--state-in` or `--state-out`; nothing ran.
        case partitionedState(PartitionedStateError)
        /// An option's value is refused; nothing ran.
        case option(name: String, reason: String)

        /// The path and the reason, for the operator.
        public var description: String {
            switch self {
            case .input(let path, let reason): "cannot read \(path): \(reason)"
            case .output(let path, let reason): "cannot write \(path): \(reason)"
            case .stateRefused(let path, let reason): "cannot start from \(path): \(reason)"
            case .partitionedState(let reason): "\(reason)"
            case .option(let name, let reason): "\(name) \(reason)"
            }
        }
    }

    let options: Options
    let logger: Logger
    let environment: [String: String]

    /// A replay reading the device key's variable from `environment` (falling back to the public key).
    public init(options: Options, logger: Logger, environment: [String: String]) {
        self.options = options
        self.logger = logger
        self.environment = environment
    }

    /// Runs the whole input through the topology and writes the three outputs; a message that cannot be
    /// decoded becomes a dead letter, only I/O errors, a bad configuration and a refused snapshot throw.
    public func run() throws -> Report {
        guard (1...Self.maxPartitions).contains(options.partitions) else {
            throw ReplayError.option(
                name: "--partitions", reason: "takes a count from 1 to \(Self.maxPartitions), not \(options.partitions)"
            )
        }
        try checkPaths()
        if options.partitions != 1, options.stateIn != nil || options.stateOut != nil {
            throw ReplayError.partitionedState(.partitioned(count: options.partitions))
        }
        let file = try ConfigLoader.load(path: options.configPath)
        let opened = try EnrichmentLoader.open(file.config, logger: logger)
        let enrichment = opened.enricher
        // The version names the geo databases actually opened, as `vigil run`'s does.
        let loaded = file.with(geoIdentity: opened.databases.dataIdentity)
        let key = try DeviceKey.resolve(loaded.config.security, environment: environment, allowPublicDefault: true)
        let (format, formatDetected) = try resolveFormat()
        var pipeline = PartitionedPipeline(
            config: loaded.config.core, policyVersion: loaded.policyVersion, enricher: enrichment, deviceKey: key.key,
            replayClock: options.now ?? ReceiveTime.now, partitionCount: options.partitions, format: format)
        var restored: SnapshotTransfer?
        if let stateIn = options.stateIn {
            let started = monotonicSeconds()
            let bytes: [UInt8]
            do { bytes = try SnapshotFile.contents(of: stateIn) } catch {
                throw ReplayError.input(path: stateIn, reason: error.reason)
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
                switch error {
                case .refused(let reason): throw ReplayError.stateRefused(path: stateIn, reason: reason)
                case .partitioned: throw ReplayError.partitionedState(error)
                }
            }
        }

        // The input is opened before any output is created: a run that cannot read leaves the previous
        // run's files as they were.
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

        if mkdir(options.outputDirectory, 0o755) != 0 && errno != EEXIST {
            throw ReplayError.output(path: options.outputDirectory, reason: String(cString: strerror(errno)))
        }
        let decisions = try FileSink(path: outputPath("decisions.jsonl"))
        let alerts = try FileSink(path: outputPath("alerts.jsonl"))
        let deadLetters = try FileSink(path: outputPath("dead-letter.jsonl"))
        let signals = try FileSink(path: outputPath("signals.jsonl"))

        let started = monotonicSeconds()
        var outputs: [OutputMessage] = []
        outputs.reserveCapacity(8)
        let reader = LineReader(descriptor: descriptor, keepBytes: format.maxMessageBytes(loaded.config.input))
        do {
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
                    case .signals: try signals.writeLine(message.payload)
                    }
                }
            }
        } catch let error as LineReader.ReadError {
            throw ReplayError.input(path: sourceName, reason: error.description)
        }
        try decisions.flush()
        try alerts.flush()
        try deadLetters.flush()
        try signals.flush()
        let elapsed = monotonicSeconds() - started
        var saved: SnapshotTransfer?
        if let stateOut = options.stateOut {
            let started = monotonicSeconds()
            let snapshot: (bytes: [UInt8], entries: Int)
            do { snapshot = try pipeline.stateSnapshot() } catch { throw ReplayError.partitionedState(error) }
            do { try SnapshotFile.writeAtomically(snapshot.bytes, to: stateOut) } catch {
                throw ReplayError.output(path: stateOut, reason: error.reason)
            }
            saved = SnapshotTransfer(
                entries: snapshot.entries, bytes: snapshot.bytes.count, seconds: monotonicSeconds() - started)
        }
        return Report(
            stats: pipeline.stats, state: pipeline.figures, globalWindow: loaded.config.engine.globalWindow,
            policyVersion: loaded.policyVersion, elapsedSeconds: elapsed,
            outputFiles: [decisions.path, alerts.path, deadLetters.path, signals.path],
            usedPublicDeviceKey: key.isPublicDefault,
            stateIn: restored, stateOut: saved, format: format, formatDetected: formatDetected)
    }

    /// The most partitions `--partitions` takes: each is a shard of every stage in this process.
    static let maxPartitions = 1_024

    private func outputPath(_ name: String) -> String { options.outputDirectory + "/" + name }

    /// Refuses, before anything is read or written, a run whose files collide or cannot be used: a
    /// directory as input, the input among the outputs (truncating them would erase it first; compared
    /// as files, so standard input and hard links count), an output that is a symbolic link (it is never written through),
    /// `--state-out` on an output or the input, a directory, or in a missing folder that is not the output
    /// folder the run creates (the outputs would be written, then the snapshot fail).
    private func checkPaths() throws {
        let names = ["decisions.jsonl", "alerts.jsonl", "dead-letter.jsonl", "signals.jsonl"]
        var input = stat()
        let readable =
            options.inputPath == "-" ? fstat(STDIN_FILENO, &input) == 0 : stat(options.inputPath, &input) == 0
        if readable, input.st_mode & S_IFMT == S_IFDIR {
            throw ReplayError.input(path: options.inputPath, reason: "it is a directory")
        }
        for path in names.map(outputPath) {
            var output = stat()
            guard lstat(path, &output) == 0 else { continue }
            if output.st_mode & S_IFMT == S_IFLNK {
                throw ReplayError.output(path: path, reason: "it is a symbolic link, which replay never writes through")
            }
            if readable, output.st_dev == input.st_dev, output.st_ino == input.st_ino {
                throw ReplayError.option(
                    name: "--out", reason: "holds the input (\(path)): the run would erase it; pick another folder")
            }
        }
        guard let stateOut = options.stateOut else { return }
        let snapshot = OutputPaths.resolved(stateOut)
        var existing = stat()
        if stat(stateOut, &existing) == 0 {
            if existing.st_mode & S_IFMT == S_IFDIR {
                throw ReplayError.output(path: stateOut, reason: "it is a directory")
            }
            if readable, existing.st_dev == input.st_dev, existing.st_ino == input.st_ino {
                throw ReplayError.option(name: "--state-out", reason: "\(stateOut) is the input: pick another file")
            }
        }
        let folder = OutputPaths.folder(of: snapshot)
        var folderStatus = stat()
        let folderExists = stat(folder, &folderStatus) == 0 && folderStatus.st_mode & S_IFMT == S_IFDIR
        guard folderExists || folder == OutputPaths.resolved(options.outputDirectory) else {
            throw ReplayError.output(path: stateOut, reason: "its folder does not exist")
        }
        // The same file as `--state-in` is fine: it is read whole before the run and replaced atomically.
        if names.map({ OutputPaths.resolved(outputPath($0)) }).contains(snapshot) {
            throw ReplayError.option(
                name: "--state-out", reason: "\(stateOut) is one of the outputs: pick another file")
        }
    }

    /// `--format`, else the format the first non-blank line of the input file has, else Vigil's contract;
    /// and whether it was detected.
    private func resolveFormat() throws -> (InputFormat, detected: Bool) {
        if let format = options.format { return (format, false) }
        guard options.inputPath != "-" else { return (.vigil, false) }
        // Detection reads the file's head through a descriptor of its own: only a regular file can be read
        // twice (a FIFO or `<(...)` would lose those bytes for the run). Others need `--format`.
        var status = stat()
        guard stat(options.inputPath, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { return (.vigil, false) }
        let descriptor = open(options.inputPath, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw ReplayError.input(path: options.inputPath, reason: String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        // Reads until the first non-blank line is whole (or the file ends), at most one batch's worth. Each
        // byte is looked at once: a first line of megabytes is read in chunks, not rescanned per chunk.
        var head: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        var lineStart = 0
        var line: ArraySlice<UInt8>?
        func isBlank(_ bytes: ArraySlice<UInt8>) -> Bool { !bytes.contains { $0 > 0x20 } }
        reading: while head.count < 16 * 1_048_576 {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            let scanned = head.count
            head.append(contentsOf: chunk[..<count])
            var index = scanned
            while let newline = head[index...].firstIndex(of: UInt8(ascii: "\n")) {
                if !isBlank(head[lineStart..<newline]) {
                    line = head[lineStart..<newline]
                    break reading
                }
                lineStart = newline + 1
                index = lineStart
            }
        }
        // The file ended (or the cap came) inside the first non-blank line: it is looked at as it is.
        if line == nil, lineStart < head.count, !isBlank(head[lineStart...]) { line = head[lineStart...] }
        if let first = line, first.starts(with: LineReader.byteOrderMark) {
            line = first.dropFirst(LineReader.byteOrderMark.count)
        }
        let detected = line.flatMap { line in line.withUnsafeBytes { InputFormat.detect($0) } }
        return detected.map { ($0, true) } ?? (.vigil, false)
    }
}

func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
