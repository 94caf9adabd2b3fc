import Engine
import Foundation

// The engine cuts its products over its own threads and holds OpenBLAS to one (see EngineThreads),
// so OpenBLAS's pool never spins beside the engine's parallel loops, whatever a command runs.
EngineThreads.set(1)

// Parse the command line, dispatch to the command, report any error on stderr, exit with its code.
let status = CommandRunner(root: AutotuneCommand.self).run(Array(CommandLine.arguments.dropFirst()))
fflush(stdout)
exit(status)
