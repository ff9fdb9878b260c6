import ArgumentParser
import Foundation
import Logging
import MilvusMigration

@main
struct MilvusMigrationCLI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "milvus-migration",
        abstract: "Migrate a Milvus 1.x (0.9.x–1.1.x) database into Milvus 2.x.",
        discussion: """
        Workflow: export the 1.x meta to meta.json, check it with plan, dump the live segments to \
        NumPy files, then load them into Milvus 2.x with bulk import (or, with loader.mode insert, \
        send the live rows with Insert, nothing staged). Exit status 0 means success; \
        any failure exits non-zero with one sentence on stderr.
        """,
        version: MilvusMigrationVersion.current,
        subcommands: [Export.self, Plan.self, Dump.self, Load.self, Start.self, Verify.self, Server.self, Sample.self, Version.self]
    )

    /// ArgumentParser's own `main`, with the signal handlers installed before anything else so
    /// that no Ctrl-C or SIGTERM is lost (see `Interrupts`), and a command-line error (unknown
    /// option, a value that is not a number, a missing argument) exiting 2 like every other usage error.
    static func main() async {
        Interrupts.install()
        MemoryTuning.apply()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}

enum MilvusMigrationVersion {
    static let current = "0.1.0"
}

/// Options every config-driven command shares.
struct ConfigOptions: ParsableArguments {
    @Option(name: [.customShort("c"), .long], help: "The migration.yaml (default: ./migration.yaml, then ./configs/migration.yaml).")
    var config: String?

    @Option(name: .long, help: "Only these 1.x collections (comma-separated).")
    var col: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    var collections: [String] {
        (col ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// `--config` (or the default places), read and checked for what `command` needs.
    func loadConfig(for command: MigrationCommands.Command) throws -> MigrationConfig {
        try MigrationConfig.load(for: command, explicit: config).config
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Runs a command body, turning every error into one sentence on stderr and a non-zero exit.
func runCommand(logLevel: Logger.Level = .info, _ body: () async throws -> Void) async throws {
    CLILogging.bootstrap(level: logLevel)
    do {
        try await body()
    } catch let error as MigrationError {
        Terminal.error(error.description)
        switch error {
        case .usage, .config: throw ExitCode(2)
        default: throw ExitCode(1)
        }
    } catch let error as ExitCode {
        throw error
    } catch let error as CleanExit {
        throw error
    } catch {
        Terminal.error("\(error)")
        throw ExitCode(1)
    }
}

enum CLILogging {
    nonisolated(unsafe) private static var done = false

    static func bootstrap(level: Logger.Level) {
        guard !done else { return }
        done = true
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

enum Terminal {
    static func error(_ message: String) {
        FileHandle.standardError.write(Data("milvus-migration: error: \(message)\n".utf8))
    }

    static func warning(_ message: String) {
        FileHandle.standardError.write(Data("milvus-migration: warning: \(message)\n".utf8))
    }

    static func print(_ text: String) {
        FileHandle.standardOutput.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
    }
}

/// glibc raises its mmap threshold to the size of the largest block freed (up to 32 MiB), after
/// which the multi-MB buffers of insert batches come from the heap arenas and are not given back:
/// the peak RSS of an insert job grew to 4-5 copies of a batch per worker. A fixed threshold of
/// 1 MiB keeps every large buffer in its own mapping, returned to the system when freed.
enum MemoryTuning {
    static func apply() {
        #if os(Linux)
        // mallopt is not in the Glibc module map (malloc.h); M_MMAP_THRESHOLD is -3.
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        _ = unsafeBitCast(symbol, to: Mallopt.self)(-3, 1 << 20)
        #endif
    }
}
