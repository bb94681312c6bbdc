import ArgumentParser
import VigilDaemon

/// `vigil config-docs schema|example`: prints a file generated from the setting declarations, to regenerate
/// `schemas/config.schema.json` and `Examples/vigil.yaml` after a setting changes (a test checks they match).
struct ConfigDocsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config-docs",
        abstract: "Print the config JSON schema or the commented example, generated from the setting declarations."
    )

    enum Document: String, ExpressibleByArgument, CaseIterable {
        case schema, example
    }

    @Argument(help: "schema (schemas/config.schema.json) or example (Examples/vigil.yaml).")
    var document: Document

    func run() {
        switch document {
        case .schema: print(ConfigDocuments.schemaJSON, terminator: "")
        case .example: print(ConfigDocuments.exampleYAML, terminator: "")
        }
    }
}
