import Foundation

/// The staging area the configuration names (`target.mode`): `<outputDir>/migration`.
public enum StagingFactory {
    public static func staging(_ config: MigrationConfig) throws -> any StagingArea {
        switch config.target.mode {
        case .local:
            let output = config.target.outputDir ?? "."
            let absolute = output.hasPrefix("/") ? output : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(output)
            return LocalStagingArea(root: (absolute as NSString).appendingPathComponent("migration"))
        case .remote:
            throw MigrationError.notBuilt("target.mode remote (staging in a bucket)")
        }
    }
}
