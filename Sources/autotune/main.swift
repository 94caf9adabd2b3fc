import Foundation

// OpenBLAS's worker threads busy-wait for ~2^28 cycles (about 0.1 s) after every GEMM, taking a
// core from the engine's own parallel loops. The library reads OPENBLAS_THREAD_TIMEOUT once, when it
// loads, so unless the user chose a value, set a short spin and start again with it.
if getenv("OPENBLAS_THREAD_TIMEOUT") == nil {
    setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1)
    execv("/proc/self/exe", CommandLine.unsafeArgv)   // returns only on failure: carry on with the default
}

// Parse the command line, dispatch to the command, report any error on stderr, exit with its code.
let status = CommandRunner(root: AutotuneCommand.self).run(Array(CommandLine.arguments.dropFirst()))
fflush(stdout)
exit(status)
