import CZlib
import Foundation
import XCTest
@testable import Engine

/// Tests for `Sources/Engine/Data`: file readers against fixtures written at run time into a
/// temporary directory, plus sampling, normalization and the synthetic generators.
final class DataTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("DataTests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: Fixtures

    private func path(_ name: String) -> String { directory + "/" + name }

    /// Writes `bytes` to `name`, gzip-compressed through zlib if `gzip`, and returns the path.
    @discardableResult
    private func write(_ bytes: [UInt8], to name: String, gzip: Bool) throws -> String {
        let target = path(name)
        if gzip {
            guard let file = gzopen(target, "wb") else { throw DataError(path: target, reason: "gzopen failed") }
            let written = bytes.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) }
            XCTAssertEqual(gzclose(file), Z_OK)
            XCTAssertEqual(Int(written), bytes.count)
        } else {
            XCTAssertTrue(FileManager.default.createFile(atPath: target, contents: Data(bytes)))
        }
        return target
    }

    private func bigEndian(_ words: [UInt32]) -> [UInt8] {
        words.flatMap { w in [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: w >> $0) } }
    }

    /// An IDX image file: `count` images of `rows × cols`, pixel k of the file holding `k % 256`.
    private func idxImages(count: Int, rows: Int, cols: Int, magic: UInt32 = 0x0803, pixelBytes: Int? = nil) -> [UInt8] {
        let header = bigEndian([magic, UInt32(count), UInt32(rows), UInt32(cols)])
        return header + (0 ..< (pixelBytes ?? count * rows * cols)).map { UInt8($0 % 256) }
    }

    private func idxLabels(_ labels: [UInt8], magic: UInt32 = 0x0801) -> [UInt8] {
        bigEndian([magic, UInt32(labels.count)]) + labels
    }

    private func writeCSV(_ text: String, name: String = "data.csv") throws -> String {
        let target = path(name)
        try text.write(toFile: target, atomically: true, encoding: .utf8)
        return target
    }

    /// The `DataError` that `body` throws, or a failure if it throws none (or another type).
    private func dataError<T>(_ body: () throws -> T, file: StaticString = #filePath, line: UInt = #line) -> DataError? {
        do {
            _ = try body()
            XCTFail("expected a DataError", file: file, line: line)
        } catch let error as DataError {
            return error
        } catch {
            XCTFail("expected a DataError, got \(error)", file: file, line: line)
        }
        return nil
    }

    /// `count` samples of shape [2, 3]; every feature of sample i is i, its label i % 4.
    private func indexed(count: Int) -> Dataset {
        Dataset(features: (0 ..< count).flatMap { i in [Float](repeating: Float(i), count: 6) },
                labels: (0 ..< count).map { Int32($0 % 4) }, sampleShape: [2, 3], classCount: 4, name: "indexed")
    }

    /// The sample ids of a dataset made by `indexed(count:)`, in order.
    private func ids(_ data: Dataset) -> [Int] {
        (0 ..< data.count).map { Int(data.features[$0 * data.sampleSize]) }
    }

    // MARK: IDX

    func testIDXRoundTripGzipAndPlain() throws {
        for gzip in [true, false] {
            let images = try write(idxImages(count: 3, rows: 4, cols: 5), to: "img\(gzip)", gzip: gzip)
            let labels = try write(idxLabels([2, 0, 9]), to: "lab\(gzip)", gzip: gzip)
            let read = try IDX.readImages(path: images)
            XCTAssertEqual(read.count, 3)
            XCTAssertEqual(read.rows, 4)
            XCTAssertEqual(read.cols, 5)
            XCTAssertEqual(read.pixels, (0 ..< 60).map { UInt8($0) })
            XCTAssertEqual(try IDX.readLabels(path: labels), [2, 0, 9])
        }
    }

    func testIDXBadMagic() throws {
        let images = try write(idxLabels([1, 2]), to: "train-images-idx3-ubyte.gz", gzip: true)
        XCTAssertEqual(dataError { try IDX.readImages(path: images) }?.description,
                       "\(images): bad magic number 0x00000801 (expected 0x00000803 for IDX images)")
        let labels = try write(idxImages(count: 1, rows: 1, cols: 1), to: "labels", gzip: false)
        XCTAssertEqual(dataError { try IDX.readLabels(path: labels) }?.reason,
                       "bad magic number 0x00000803 (expected 0x00000801 for IDX labels)")
    }

    func testIDXTruncatedAndTrailingData() throws {
        let short = try write(idxImages(count: 60000, rows: 28, cols: 28, pixelBytes: 1000), to: "short.gz", gzip: true)
        XCTAssertEqual(dataError { try IDX.readImages(path: short) }?.description,
                       "\(short): truncated: expected 47040000 pixel bytes, found 1000")
        let header = try write([0, 0, 8], to: "header", gzip: false)
        XCTAssertEqual(dataError { try IDX.readLabels(path: header) }?.reason,
                       "truncated: expected a 8-byte header, found 3 bytes")
        let long = try write(idxLabels([1, 2]) + [7], to: "long", gzip: true)
        XCTAssertEqual(dataError { try IDX.readLabels(path: long) }?.reason, "trailing data after 2 label bytes")
    }

    func testIDXMissingFileAndDirectory() {
        let missing = path("nothing-here.gz")
        XCTAssertEqual(dataError { try IDX.readLabels(path: missing) }, DataError(path: missing, reason: "no such file"))
        XCTAssertEqual(dataError { try IDX.readImages(path: directory) }?.reason, "is a directory")
    }

    func testIDXCorruptGzip() throws {
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: write(idxLabels(Array(repeating: 3, count: 500)),
                                                                         to: "ok.gz", gzip: true))))
        bytes[bytes.count - 6] ^= 0xFF   // inside the CRC-32 trailer
        let corrupt = try write(bytes, to: "corrupt.gz", gzip: false)
        XCTAssertTrue(dataError { try IDX.readLabels(path: corrupt) }?.reason.hasPrefix("corrupt gzip data") ?? false)
    }

    // MARK: Fashion-MNIST layout

    func testFashionMNISTLoadsFixtureSplit() throws {
        try write(idxImages(count: 2, rows: 3, cols: 2), to: "t10k-images-idx3-ubyte.gz", gzip: true)
        try write(idxLabels([7, 1]), to: "t10k-labels-idx1-ubyte", gzip: false)   // plain works too
        let data = try FashionMNIST.load(.test, directory: directory)
        XCTAssertEqual(data.count, 2)
        XCTAssertEqual(data.sampleShape, [3, 2, 1])
        XCTAssertEqual(data.classCount, 10)
        XCTAssertEqual(data.name, "fashion-mnist")
        XCTAssertEqual(data.labels, [7, 1])
        XCTAssertEqual(data.features[5], 5 / 255)
    }

    func testFashionMNISTCountMismatchAndBadLabel() throws {
        try write(idxImages(count: 3, rows: 2, cols: 2), to: "train-images-idx3-ubyte.gz", gzip: true)
        let labels = try write(idxLabels([1, 2]), to: "train-labels-idx1-ubyte.gz", gzip: true)
        XCTAssertEqual(dataError { try FashionMNIST.load(.train, directory: directory) }?.description,
                       "\(labels): label count 2 ≠ image count 3")
        try write(idxLabels([1, 12, 2]), to: "train-labels-idx1-ubyte.gz", gzip: true)
        XCTAssertEqual(dataError { try FashionMNIST.load(.train, directory: directory) }?.reason,
                       "label 12 at index 1 outside 0..<10")
    }

    func testFashionMNISTMissingFile() {
        XCTAssertEqual(dataError { try FashionMNIST.load(.train, directory: directory) },
                       DataError(path: path("train-images-idx3-ubyte.gz"), reason: "no such file"))
    }

    func testRealFashionMNISTTestSplit() throws {
        let files = ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"].map { FashionMNIST.defaultDirectory + "/" + $0 }
        guard files.allSatisfy({ FileManager.default.fileExists(atPath: $0) || FileManager.default.fileExists(atPath: $0 + ".gz") }) else {
            throw XCTSkip("Fashion-MNIST is not installed in \(FashionMNIST.defaultDirectory)")
        }
        let test = try FashionMNIST.load(.test)
        XCTAssertEqual(test.count, 10000)
        XCTAssertEqual(test.sampleShape, [28, 28, 1])
        XCTAssertEqual(test.classCount, 10)
        XCTAssertEqual(test.features.min(), 0)
        XCTAssertEqual(test.features.max(), 1)
        var perClass = [Int](repeating: 0, count: 10)
        for label in test.labels { perClass[Int(label)] += 1 }
        XCTAssertEqual(perClass, [Int](repeating: 1000, count: 10))
    }

    // MARK: CSV

    func testCSVWithStringLabelsQuotesAndCRLF() throws {
        let file = try writeCSV("a,\"b, quoted\",label\r\n1.5,2,\"dog\"\r\n-3,\"4e1\",cat\r\n0, 7 ,\"say \"\"hi\"\"\"\r\n\r\n\r\n")
        let data = try CSVData.load(path: file, labelColumn: "label")
        XCTAssertEqual(data.sampleShape, [2])
        XCTAssertEqual(data.features, [1.5, 2, -3, 40, 0, 7])
        XCTAssertEqual(data.classCount, 3)
        XCTAssertEqual(data.labels, [1, 0, 2])   // sorted: cat, dog, say "hi"
        XCTAssertEqual(data.name, "data")
    }

    func testCSVIntegerLabelsInAnyColumnAndOtherDelimiter() throws {
        let file = try writeCSV("y;x1;x2\n2;1;1\n0;2;2\n5;3;3", name: "semi.csv")
        let data = try CSVData.load(path: file, labelColumn: "y", delimiter: ";")
        XCTAssertEqual(data.labels, [2, 0, 5])
        XCTAssertEqual(data.classCount, 6)
        XCTAssertEqual(data.features, [1, 1, 2, 2, 3, 3])
        XCTAssertEqual(CSVData.classIndices(["-1", "1", "-1"]).labels, [0, 1, 0])
    }

    func testCSVQuotedFieldWithLineBreak() throws {
        let file = try writeCSV("x,label\n1,\"two\nlines\"\n2,x\n")
        let data = try CSVData.load(path: file, labelColumn: "label")
        XCTAssertEqual(data.labels, [0, 1])   // "two\nlines" < "x"
    }

    func testCSVErrors() throws {
        let bad = try writeCSV("x1,x2,x3,label\n" + String(repeating: "1,2,3,a\n", count: 5) + "1,2,abc,b\n")
        XCTAssertEqual(dataError { try CSVData.load(path: bad, labelColumn: "label") }?.description,
                       "\(bad): line 7, column \"x3\": not a number: \"abc\"")
        let noLabel = try writeCSV("a,b,c\n1,2,3\n", name: "nolabel.csv")
        XCTAssertEqual(dataError { try CSVData.load(path: noLabel, labelColumn: "label") }?.reason,
                       "no column named \"label\" (columns: a, b, c)")
        let ragged = try writeCSV("a,b,label\n1,2,x\n1,x\n", name: "ragged.csv")
        XCTAssertEqual(dataError { try CSVData.load(path: ragged, labelColumn: "label") }?.reason,
                       "line 3: 2 fields, expected 3 as in the header")
        let unclosed = try writeCSV("a,label\n1,\"x\n", name: "unclosed.csv")
        XCTAssertEqual(dataError { try CSVData.load(path: unclosed, labelColumn: "label") }?.reason,
                       "line 2: quoted field never closes")
        let empty = try writeCSV("", name: "empty.csv")
        XCTAssertEqual(dataError { try CSVData.load(path: empty, labelColumn: "label") }?.reason,
                       "empty file (expected a header line)")
        let headerOnly = try writeCSV("a,label\n", name: "header.csv")
        XCTAssertEqual(dataError { try CSVData.load(path: headerOnly, labelColumn: "label") }?.reason,
                       "no data rows after the header")
        let missing = path("missing.csv")
        XCTAssertEqual(dataError { try CSVData.load(path: missing, labelColumn: "label") }?.description,
                       "\(missing): no such file")
    }

    // MARK: Sampling

    func testShuffleIsSeededAndKeepsPairs() {
        let data = indexed(count: 50)
        let a = data.shuffled(seed: 1), b = data.shuffled(seed: 1), c = data.shuffled(seed: 2)
        XCTAssertEqual(a.features, b.features)
        XCTAssertEqual(a.labels, b.labels)
        XCTAssertNotEqual(ids(a), ids(c))
        XCTAssertNotEqual(ids(a), Array(0 ..< 50))
        XCTAssertEqual(ids(a).sorted(), Array(0 ..< 50))
        for i in 0 ..< a.count { XCTAssertEqual(Int(a.labels[i]), ids(a)[i] % 4) }
        XCTAssertEqual(ids(data), Array(0 ..< 50), "shuffled must not mutate the original")
    }

    func testSubsets() {
        let data = indexed(count: 10)
        XCTAssertEqual(ids(data.subset(3 ..< 6)), [3, 4, 5])
        XCTAssertEqual(data.subset(3 ..< 6).labels, [3, 0, 1])
        XCTAssertEqual(data.subset(count: 4).count, 4)
        XCTAssertEqual(data.subset(count: 99).count, 10)
        XCTAssertEqual(data.subset(count: 0).features, [])
    }

    func testSplitSizesAndDisjointness() {
        let data = indexed(count: 101)
        let (train, validation) = data.split(validationFraction: 0.2, seed: 9)
        XCTAssertEqual(validation.count, 20)
        XCTAssertEqual(train.count, 81)
        XCTAssertTrue(Set(ids(train)).isDisjoint(with: ids(validation)))
        XCTAssertEqual((ids(train) + ids(validation)).sorted(), Array(0 ..< 101))
        XCTAssertEqual(ids(train) + ids(validation), ids(data.shuffled(seed: 9)))
        XCTAssertEqual(data.split(validationFraction: 0, seed: 1).validation.count, 0)
        XCTAssertEqual(data.split(validationFraction: 1, seed: 1).train.count, 0)
    }

    func testGatherCopiesRows() {
        let data = Synthetic.markovSequences(count: 6, length: 5, vocabulary: 7, seed: 4)
        var x = [Float](repeating: -1, count: 3 * 5)
        var y = [Int32](repeating: -1, count: 3 * 5)
        let indices = [4, 0, 4, 2]
        data.gather(indices[1...], features: &x, labels: &y)
        for (row, i) in [0, 4, 2].enumerated() {
            XCTAssertEqual(Array(x[row * 5 ..< row * 5 + 5]), Array(data.features[i * 5 ..< i * 5 + 5]))
            XCTAssertEqual(Array(y[row * 5 ..< row * 5 + 5]), Array(data.labels[i * 5 ..< i * 5 + 5]))
        }
    }

    // MARK: Normalization

    func testNormalizationPerChannel() {
        var rng = RandomSource(seed: 3)
        // 200 images of 4×4×3 whose channels have means 10, -2, 0 and stds 5, 0.1, and 0 (constant).
        let features: [Float] = (0 ..< 200 * 16).flatMap { _ -> [Float] in
            [10 + 5 * rng.nextNormal(), -2 + 0.1 * rng.nextNormal(), 0]
        }
        let data = Dataset(features: features, labels: [Int32](repeating: 0, count: 200), sampleShape: [4, 4, 3],
                           classCount: 1, name: "images")
        let norm = Normalization.fit(data)
        XCTAssertEqual(norm.mean.count, 3)
        XCTAssertEqual(norm.mean[0], 10, accuracy: 0.2)
        XCTAssertEqual(norm.std[1], 0.1, accuracy: 0.01)
        XCTAssertEqual(norm.std[2], Normalization.minimumStd)
        let normalized = norm.apply(data)
        let after = Normalization.fit(normalized)
        for c in 0 ..< 2 {
            XCTAssertEqual(after.mean[c], 0, accuracy: 1e-4)
            XCTAssertEqual(after.std[c], 1, accuracy: 1e-4)
        }
        XCTAssertEqual(after.mean[2], 0)
        XCTAssertEqual(data.features, features, "apply must not mutate its input")
    }

    func testNormalizationTabularIsPerFeatureAndCodable() throws {
        let data = Dataset(features: [1, 10, 3, 30], labels: [0, 1], sampleShape: [2], classCount: 2, name: "t")
        let norm = Normalization.fit(data)
        XCTAssertEqual(norm, Normalization(mean: [2, 20], std: [1, 10]))
        XCTAssertEqual(norm.apply(data).features, [-1, -1, 1, 1])
        let decoded = try JSONDecoder().decode(Normalization.self, from: JSONEncoder().encode(norm))
        XCTAssertEqual(decoded, norm)
    }

    // MARK: Synthetic

    func testBlobs() {
        let a = Synthetic.blobs(count: 90, classes: 3, dimensions: 5, seed: 1)
        XCTAssertEqual(a.sampleShape, [5])
        XCTAssertEqual(a.features.count, 450)
        XCTAssertEqual(a.classCount, 3)
        XCTAssertEqual((0 ..< 3).map { c in a.labels.filter { $0 == c }.count }, [30, 30, 30])
        XCTAssertEqual(a.features, Synthetic.blobs(count: 90, classes: 3, dimensions: 5, seed: 1).features)
        XCTAssertNotEqual(a.features, Synthetic.blobs(count: 90, classes: 3, dimensions: 5, seed: 2).features)
    }

    func testSpirals() {
        let a = Synthetic.spirals(count: 300, classes: 3, noise: 0, seed: 5)
        XCTAssertEqual(a.sampleShape, [2])
        XCTAssertEqual(a.count, 300)
        XCTAssertEqual(a.classCount, 3)
        XCTAssertEqual(a.labels, Synthetic.spirals(count: 300, classes: 3, noise: 0, seed: 5).labels)
        XCTAssertNotEqual(a.features, Synthetic.spirals(count: 300, classes: 3, noise: 0, seed: 6).features)
        for i in 0 ..< a.count {   // noiseless points lie within the unit disc
            XCTAssertLessThanOrEqual(a.features[2 * i] * a.features[2 * i] + a.features[2 * i + 1] * a.features[2 * i + 1], 1.0001)
        }
    }

    func testMarkovSequences() {
        let a = Synthetic.markovSequences(count: 200, length: 16, vocabulary: 8, seed: 11)
        XCTAssertEqual(a.sampleShape, [16])
        XCTAssertEqual(a.labelsPerSample, 16)
        XCTAssertEqual(a.count, 200)
        XCTAssertEqual(a.classCount, 8)
        XCTAssertEqual(a.features, Synthetic.markovSequences(count: 200, length: 16, vocabulary: 8, seed: 11).features)
        XCTAssertNotEqual(a.features, Synthetic.markovSequences(count: 200, length: 16, vocabulary: 8, seed: 12).features)
        XCTAssertTrue(a.features.allSatisfy { $0 >= 0 && $0 < 8 && $0 == $0.rounded() })
        // Each label is the next position's token.
        for s in 0 ..< a.count {
            for t in 0 ..< 15 { XCTAssertEqual(Float(a.labels[s * 16 + t]), a.features[s * 16 + t + 1]) }
        }
        // Peaked: after each token, the most frequent successor takes far more than 1/8 of the mass.
        var counts = [[Int]](repeating: [Int](repeating: 0, count: 8), count: 8)
        for i in 0 ..< a.labels.count { counts[Int(a.features[i])][Int(a.labels[i])] += 1 }
        for row in counts where row.reduce(0, +) > 100 {
            XCTAssertGreaterThan(Double(row.max() ?? 0) / Double(row.reduce(0, +)), 0.35)
        }
    }
}
