import Engine
import Report
import Search
import Store

// Problems with what the user handed in (a candidate file, a data file, an architecture that does
// not fit its data) end the process with exit code 2, like usage errors.
extension InputFileError: ExitCoded { var exitCode: Int32 { 2 } }
extension ConfigError: ExitCoded { var exitCode: Int32 { 2 } }
extension DataError: ExitCoded { var exitCode: Int32 { 2 } }
extension ShapeError: ExitCoded { var exitCode: Int32 { 2 } }

extension StoreError: ExitCoded {
    /// A store that cannot be opened or is too new is bad input; a server that refuses the
    /// connection, or a failure while using a store, is not.
    var exitCode: Int32 { kind == .cannotOpen || kind == .schemaTooNew ? 2 : 1 }
}

extension ReportError: ExitCoded {
    /// A request the study cannot meet is bad input; an outside tool or a broken export is not.
    var exitCode: Int32 { kind == .input ? 2 : 1 }
}

extension StudyError: ExitCoded {
    /// A study that does not exist, cannot resume or is told bad metrics is bad input.
    var exitCode: Int32 { kind == .input ? 2 : 1 }
}
