import ArgumentParser
import VigilDaemon

@main
struct Vigil: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Real-time login-risk daemon.")
    func run() throws {}
}
