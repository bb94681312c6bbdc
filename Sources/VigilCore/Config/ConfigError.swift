/// One thing wrong with a configuration, located by its dotted YAML key path (`engine.signals.new_device.points`,
/// `kafka.input_topics[0]`) and, when it came from a file, the 1-based line. Operators fix files by line;
/// code and tests match on the key path.
public struct ConfigProblem: Sendable, Equatable, CustomStringConvertible {
    /// Dotted key path; empty for problems with the whole file.
    public var keyPath: String
    /// 1-based line in the file; nil for a problem with no single line (a missing key, a value built in code).
    public var line: Int?
    /// What is wrong and, where it helps, what is allowed; never the value of a secret.
    public var message: String

    /// A problem at `keyPath` (empty for the whole file), with its line when the file is known.
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

    /// `key.path (line n): message`, leaving out what is unknown: the form operators read in logs.
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
    /// In file order; never empty when thrown.
    public var problems: [ConfigProblem]

    /// `source` is the file path shown in the header (nil: "configuration").
    public init(source: String? = nil, problems: [ConfigProblem]) {
        self.source = source
        self.problems = problems
    }

    /// A header with the file and the count, then one indented line per problem.
    public var description: String {
        let header = "\(source ?? "configuration"): \(problems.count) problem\(problems.count == 1 ? "" : "s")"
        return ([header] + problems.map { "  \($0)" }).joined(separator: "\n")
    }
}
