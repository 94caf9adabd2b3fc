import Foundation

// Parse the command line, dispatch to the command, report any error on stderr, exit with its code.
let status = CommandRunner(root: AutotuneCommand.self).run(Array(CommandLine.arguments.dropFirst()))
fflush(stdout)
exit(status)
