import ArgumentParser
import MilvusMigration

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")

    func run() {
        print("milvus-migration \(MilvusMigrationVersion.current)")
    }
}
