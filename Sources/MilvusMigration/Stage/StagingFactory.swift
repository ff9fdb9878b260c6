import Foundation

/// The staging area the configuration names (`target.mode`): `<outputDir>/migration` in a local
/// folder or under a key prefix in a bucket. No network here: `prepare()` checks the bucket.
public enum StagingFactory {
    public static func staging(_ config: MigrationConfig) throws -> any StagingArea {
        switch config.target.mode {
        case .local:
            let output = config.target.outputDir ?? "."
            let absolute = output.hasPrefix("/") ? output : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(output)
            return LocalStagingArea(root: (absolute as NSString).appendingPathComponent("migration"))
        case .remote:
            let r = config.target.remote
            let settings = try S3Settings.resolve(r, file: config.file, base: "target.remote")
            return S3StagingArea(client: S3Client(settings: settings), outputDir: r.prefix,
                                 checkBucket: r.checkBucket, createBucket: r.createBucket)
        }
    }
}
