/// One thing wrong with a configuration, located by its dotted YAML key path (`engine.signals.new_device.points`,
/// `kafka.input_topics[0]`) and, when it came from a file, the 1-based line. Operators fix files by line;
/// code and tests match on the key path.
public struct ConfigProblem: Sendable, Equatable, CustomStringConvertible {
    /// Dotted key path; empty for problems with the whole file.
    public var keyPath: String
    public var line: Int?
    public var message: String

    public init(keyPath: String, line: Int? = nil, message: String) {
        self.keyPath = keyPath
        self.line = line
        self.message = message
    }

    /// A value as error messages show it: quoted and cut short, so a long value never fills a log line.
    public static func quoted(_ text: String) -> String {
        let shown = text.count > 40 ? text.prefix(40) + "…" : Substring(text)
        return "\"\(shown)\""
    }

    public var description: String {
        switch (keyPath.isEmpty, line) {
        case (false, let line?): "\(keyPath) (line \(line)): \(message)"
        case (false, nil): "\(keyPath): \(message)"
        case (true, let line?): "line \(line): \(message)"
        case (true, nil): message
        }
    }
}

/// Every problem found in a configuration at once, so an operator fixes a file in one pass instead of one
/// error per attempt. Never contains a secret value: only key paths and environment variable names.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file the problems are in, when there is one.
    public var source: String?
    public var problems: [ConfigProblem]

    public init(source: String? = nil, problems: [ConfigProblem]) {
        self.source = source
        self.problems = problems
    }

    public var description: String {
        let header = "\(source ?? "configuration"): \(problems.count) problem\(problems.count == 1 ? "" : "s")"
        return ([header] + problems.map { "  \($0)" }).joined(separator: "\n")
    }
}
