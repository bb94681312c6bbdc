import ArgumentParser
import VigilCore

/// The `vigil` command: a thin shell over VigilDaemon.
@main
struct Vigil: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Real-time login-risk daemon: step-up decisions and SIEM alerts from IdP events.",
        version: VigilVersion.current,
        subcommands: [
            RunCommand.self, DemoCommand.self, ReplayCommand.self, EvaluateCommand.self, GenerateCommand.self,
            CheckConfigCommand.self, ConfigDocsCommand.self,
        ]
    )
}
