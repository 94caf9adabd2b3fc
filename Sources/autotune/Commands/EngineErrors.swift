import Engine

// Problems with what the user handed in (a candidate file, a data file, an architecture that does
// not fit its data) end the process with exit code 2, like usage errors.
extension InputFileError: ExitCoded { var exitCode: Int32 { 2 } }
extension ConfigError: ExitCoded { var exitCode: Int32 { 2 } }
extension DataError: ExitCoded { var exitCode: Int32 { 2 } }
extension ShapeError: ExitCoded { var exitCode: Int32 { 2 } }
