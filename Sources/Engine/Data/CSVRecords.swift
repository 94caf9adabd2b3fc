/// One row of a delimited text file: its fields and the line it starts on (1-based).
struct CSVRecord {
    var line: Int
    var fields: [String]
}

/// Splits delimited text (RFC 4180) into records.
///
/// Handles quoted fields (which may hold delimiters, doubled quotes `""` and line breaks), LF, CRLF
/// and CR line ends, a UTF-8 byte-order mark, and blank lines (skipped wherever they are).
///
///     let records = try CSVRecords.parse(Array("a,b\n1,\"x, y\"\n".utf8), delimiter: ",", path: "t.csv")
///     // [CSVRecord(line: 1, fields: ["a", "b"]), CSVRecord(line: 2, fields: ["1", "x, y"])]
enum CSVRecords {
    private static let quote = UInt8(ascii: "\"")
    private static let newline = UInt8(ascii: "\n")
    private static let carriageReturn = UInt8(ascii: "\r")

    /// - Parameters:
    ///   - bytes: the file's contents, UTF-8.
    ///   - delimiter: the field separator, one ASCII character other than a quote or a line break.
    ///   - path: the file, for error messages.
    /// - Throws: `DataError` for a quoted field that never closes or text after a closing quote.
    static func parse(_ bytes: [UInt8], delimiter: Character, path: String) throws(DataError) -> [CSVRecord] {
        guard let separator = delimiter.asciiValue, delimiter != "\"", delimiter != "\n", delimiter != "\r" else {
            preconditionFailure("delimiter must be one ASCII character other than a quote or line break, got \(delimiter)")
        }
        var records: [CSVRecord] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var line = 1, recordLine = 1
        var atFieldStart = true, recordHasQuotes = false
        var i = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0

        func endField() {
            fields.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            atFieldStart = true
        }
        func endRecord() {
            endField()
            let blank = fields.count == 1 && !recordHasQuotes
                && fields[0].allSatisfy { $0 == " " || $0 == "\t" }
            if !blank { records.append(CSVRecord(line: recordLine, fields: fields)) }
            fields.removeAll(keepingCapacity: true)
            recordHasQuotes = false
        }

        while i < bytes.count {
            let byte = bytes[i]
            if atFieldStart && byte == quote {
                // A quoted field runs to the next lone quote.
                recordHasQuotes = true
                let openingLine = line
                i += 1
                while true {
                    guard i < bytes.count else {
                        throw DataError(path: path, reason: "line \(openingLine): quoted field never closes")
                    }
                    let c = bytes[i]
                    if c == quote {
                        if i + 1 < bytes.count && bytes[i + 1] == quote {
                            field.append(quote)
                            i += 2
                            continue
                        }
                        i += 1
                        break
                    }
                    if c == newline || (c == carriageReturn && (i + 1 == bytes.count || bytes[i + 1] != newline)) {
                        line += 1
                    }
                    field.append(c)
                    i += 1
                }
                if i < bytes.count, ![separator, newline, carriageReturn].contains(bytes[i]) {
                    throw DataError(path: path, reason: "line \(line): text after the closing quote of a field")
                }
                atFieldStart = false
                continue
            }
            switch byte {
            case separator:
                endField()
            case newline, carriageReturn:
                endRecord()
                if byte == carriageReturn && i + 1 < bytes.count && bytes[i + 1] == newline { i += 1 }
                line += 1
                recordLine = line
            default:
                field.append(byte)
                atFieldStart = false
            }
            i += 1
        }
        if !(atFieldStart && field.isEmpty && fields.isEmpty) || recordHasQuotes { endRecord() }
        return records
    }
}
