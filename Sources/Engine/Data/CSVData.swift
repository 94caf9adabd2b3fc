import Foundation

/// Tabular data from a delimited text file with a header line.
///
/// Every column but the label column must be numeric. Labels may be non-negative integers (used
/// as class indices directly), other integers (numbered in increasing order), or strings (numbered
/// in sorted order). Values are trimmed of surrounding spaces and tabs. A gzip-compressed file
/// (`data.csv.gz`) is read as well.
///
///     // data.csv:  sepal_length,sepal_width,species
///     //            5.1,3.5,setosa
///     let iris = try CSVData.load(path: "data.csv", labelColumn: "species")
///     iris.sampleShape    // [2]
public enum CSVData {
    /// Loads `path`, taking labels from the column whose header is `labelColumn`.
    ///
    /// - Parameters:
    ///   - path: the file; its name without extension becomes the dataset's name.
    ///   - labelColumn: the header of the label column.
    ///   - delimiter: the field separator, one ASCII character (`","`, `";"`, `"\t"`).
    /// - Returns: a dataset of shape `[columns - 1]`, one label per sample.
    /// - Throws: `DataError` naming the file, and the line and column where there is one: a
    ///   missing file, no header, no such label column, a row with the wrong number of fields, a
    ///   value that is not a finite number, an empty label, or no data rows.
    public static func load(path: String, labelColumn: String, delimiter: Character = ",") throws(DataError) -> Dataset {
        let bytes = try CompressedFile(path: path).readToEnd()
        let records = try CSVRecords.parse(bytes, delimiter: delimiter, path: path)
        guard let header = records.first else {
            throw DataError(path: path, reason: "empty file (expected a header line)")
        }
        let names = header.fields.map(trimmed)
        guard let labelIndex = names.firstIndex(of: labelColumn) else {
            throw DataError(path: path, reason: "no column named \"\(labelColumn)\" (columns: \(names.joined(separator: ", ")))")
        }
        let rows = records.dropFirst()
        guard !rows.isEmpty else { throw DataError(path: path, reason: "no data rows after the header") }

        var features: [Float] = []
        features.reserveCapacity(rows.count * (names.count - 1))
        var labelTexts: [String] = []
        labelTexts.reserveCapacity(rows.count)
        for row in rows {
            guard row.fields.count == names.count else {
                throw DataError(path: path, reason: "line \(row.line): \(row.fields.count) fields, expected \(names.count) as in the header")
            }
            for (column, field) in row.fields.enumerated() {
                let text = trimmed(field)
                if column == labelIndex {
                    guard !text.isEmpty else {
                        throw DataError(path: path, reason: "line \(row.line), column \"\(names[column])\": empty label")
                    }
                    labelTexts.append(text)
                } else {
                    guard let value = Float(text), value.isFinite else {
                        throw DataError(path: path, reason: "line \(row.line), column \"\(names[column])\": not a number: \"\(text)\"")
                    }
                    features.append(value)
                }
            }
        }
        let (labels, classCount) = classIndices(labelTexts)
        return Dataset(features: features, labels: labels, sampleShape: [names.count - 1],
                       classCount: classCount, name: datasetName(path))
    }

    /// Class indices for label texts, and the number of classes.
    ///
    /// Non-negative integers are their own index; any other set of labels is numbered in sorted
    /// order (numeric order if all are integers).
    static func classIndices(_ texts: [String]) -> (labels: [Int32], classCount: Int) {
        let integers = texts.compactMap { Int32($0) }
        if integers.count == texts.count {
            if let largest = integers.max(), integers.allSatisfy({ $0 >= 0 }) {
                return (integers, Int(largest) + 1)
            }
            let classes = Array(Set(integers)).sorted()
            let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, Int32($0)) })
            return (integers.map { index[$0] ?? 0 }, classes.count)
        }
        let classes = Array(Set(texts)).sorted()
        let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, Int32($0)) })
        return (texts.map { index[$0] ?? 0 }, classes.count)
    }

    /// The file name without directories or extensions (`data/iris.csv.gz` → `iris`).
    private static func datasetName(_ path: String) -> String {
        var name = URL(fileURLWithPath: path).lastPathComponent
        for suffix in [".gz", ".csv", ".tsv", ".txt"] where name.lowercased().hasSuffix(suffix) {
            name.removeLast(suffix.count)
        }
        return name
    }

    private static func trimmed(_ text: String) -> String {
        text.trimmingCharacters(in: CharacterSet(charactersIn: " \t"))
    }
}
