import Foundation
import KibanData
import KibanTensor
import KibanTestSupport
import Testing

// Tests of the scientific-data readers: FASTA, CSV, chemical formulas, the ESM-2 alphabet, and a
// fuzz test of the two text parsers. Real data comes from the data folder (`TestData`).

/// Writes `contents` to a new temporary file and returns its path.
private func temporaryFile(_ contents: some DataProtocol, suffix: String) throws -> String {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("kiban-\(UUID().uuidString)\(suffix)")
    try Data(contents).write(to: url)
    return url.path
}

/// Reads FASTA text through a temporary file.
private func readFASTA(_ text: String, policy: ResiduePolicy = .reject) throws -> [FASTARecord] {
    let path = try temporaryFile(Data(text.utf8), suffix: ".faa")
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try FASTAReader.readAll(path: path, policy: policy)
}

/// The ``DataError`` that reading `text` as FASTA throws, with the temporary path replaced by `x.faa`.
private func fastaError(_ text: String) -> String? {
    do {
        _ = try readFASTA(text)
        return nil
    } catch let error as DataError {
        return error.description.replacingOccurrences(of: error.file, with: "x.faa")
    } catch {
        return "not a DataError: \(error)"
    }
}

@Suite struct FASTAReaderTests {
    @Test func joinsLinesUpperCasesAndDropsTerminator() throws {
        let records = try readFASTA(">p1 first protein\r\nMKT\r\nvla*\r\n\r\n>p2\r\nAC DE\r\nXBZUO\r\n")
        #expect(records == [
            FASTARecord(header: "p1 first protein", sequence: "MKTVLA", line: 1),
            FASTARecord(header: "p2", sequence: "ACDEXBZUO", line: 5),
        ])
    }

    @Test func lastLineWithoutNewline() throws {
        #expect(try readFASTA(">a\nMK\n>b\nLV").map(\.sequence) == ["MK", "LV"])
    }

    @Test func readsTheBacterialProteome() throws {
        let path = try TestData.path("protein/bacterial_proteome.faa")
        let records = try FASTAReader.readAll(path: path)
        #expect(records.count == 2_100)
        #expect(records.allSatisfy { !$0.sequence.isEmpty && !$0.sequence.contains("*") })
        #expect(records.reduce(0) { $0 + $1.sequence.count } == 680_484)
        #expect(records[0].header.hasPrefix("938293.PRJEB85.HG003688_1 # 204 # 629"))
        #expect(records[0].line == 1)
        #expect(records[0].sequence.hasPrefix("MNINELLKDKDLKVTKYRKLILENLKSCDNPISAEELFDKLKKDYDMDLSTIYRNLNILEEKGV"))
    }

    @Test func errorsNameFileAndLine() {
        #expect(fastaError(">a\nMKJ\n") == "x.faa:2: residue 'J' is not allowed (policy: reject)")
        #expect(fastaError(">a\nMK\nL1\n")?.hasPrefix("x.faa:3: residue '1'") == true)
        #expect(fastaError(">a\nMK*\nLV\n")?.hasPrefix("x.faa:2: residue '*' before the end") == true)
        #expect(fastaError(">a\nMÉ\n")?.hasPrefix("x.faa:2: residue U+C9") == true)
        #expect(fastaError(">a\n>b\nMK\n") == "x.faa:1: header '>a' has no sequence")
        #expect(fastaError(">a\nMK\n>b\n*\n") == "x.faa:3: header '>b' has no sequence")
        #expect(fastaError("\nMK\n>a\nMK\n") == "x.faa:2: sequence data before the first '>' header")
        #expect(fastaError("") == "x.faa: the file is empty: no FASTA records")
        #expect(fastaError("\n \r\n") == "x.faa: the file is empty: no FASTA records")
    }

    @Test func missingFileIsADataError() {
        #expect(throws: DataError.self) { try FASTAReader(path: "/nonexistent/kiban.faa") }
    }

    @Test func mapToUnknownReplacesEachBadCharacter() throws {
        let records = try readFASTA(">a\nMKJ1*LV-É*\n", policy: .mapToUnknown)
        #expect(records.map(\.sequence) == ["MKXXXLVXX"])
    }
}

@Suite struct CSVTableTests {
    @Test func quotedFields() throws {
        let text = "name,value,note\r\n\"a,b\",1.5,\"say \"\"hi\"\"\"\r\nplain, -2 ,\"two\nlines\"\r\nlast,3e2,\r\n"
        let table = try CSVTable(parsing: text, file: "q.csv", requiredColumns: ["name", "value"])
        #expect(table.columnNames == ["name", "value", "note"])
        #expect(table.rowCount == 3)
        #expect(try table.strings("name") == ["a,b", "plain", "last"])
        #expect(try table.strings("note") == ["say \"hi\"", "two\nlines", ""])
        #expect(try table.doubles("value") == [1.5, -2, 300])
        #expect(table.line(ofRow: 2) == 5)
    }

    @Test func missingColumnListsThePresentOnes() {
        let error = #expect(throws: DataError.self) {
            try CSVTable(parsing: "a,b\n1,2\n", file: "m.csv", requiredColumns: ["a", "formula"])
        }
        #expect(error?.description == "m.csv:1: column 'formula': no such column; the columns are 'a', 'b'")
    }

    @Test func nonNumericValueNamesLineAndColumn() throws {
        let table = try CSVTable(parsing: "x,y\n1,2\n3,abc\n4,5.5\n", file: "n.csv")
        let error = #expect(throws: DataError.self) { try table.doubles("y") }
        #expect(error?.description == "n.csv:3: column 'y': value 'abc' is not a finite number")
        #expect(try table.integers("x") == [1, 3, 4])
        #expect(throws: DataError.self) { try CSVTable(parsing: "v\nnan\n", file: "nan.csv").doubles("v") }
        let integerError = #expect(throws: DataError.self) {
            try CSVTable(parsing: "k\n1\n2.5\n", file: "i.csv").integers("k")
        }
        #expect(integerError?.line == 3)
    }

    @Test func wrongFieldCountAndBadQuotes() {
        let error = #expect(throws: DataError.self) { try CSVTable(parsing: "a,b\n1,2\n1,2,3\n", file: "w.csv") }
        #expect(error?.description == "w.csv:3: expected 2 fields as in the header, found 3")
        let unclosed = #expect(throws: DataError.self) { try CSVTable(parsing: "a\n1\n\"open\n\n", file: "u.csv") }
        #expect(unclosed?.line == 3)
        #expect(throws: DataError.self) { try CSVTable(parsing: "a\nab\"c\n", file: "s.csv") }
        #expect(throws: DataError.self) { try CSVTable(parsing: "", file: "e.csv") }
    }

    @Test func readsTheAntimicrobialPeptides() throws {
        let table = try CSVTable.read(
            path: try TestData.path("protein/amp_vs_uniprot.csv"), requiredColumns: ["sequence", "label", "split"])
        #expect(table.rowCount == 4_642)
        let labels = try table.integers("label")
        #expect(labels.allSatisfy { $0 == 0 || $0 == 1 })
        #expect(labels.reduce(0, +) == 2_562)
        #expect(Set(try table.strings("split")) == ["train", "val", "test"])
    }

    @Test func readsTheBandGaps() throws {
        let table = try CSVTable.read(
            path: try TestData.path("materials/expt_gap.csv"), requiredColumns: ["formula", "target"])
        #expect(table.rowCount == 4_604)
        let gaps = try table.doubles("target")
        #expect(gaps.min() == 0 && gaps.max() == 11.7)
    }
}

@Suite struct ChemicalFormulaTests {
    /// The composition as `symbol: amount` for easy comparison.
    private func amounts(_ text: String) throws -> [String: Double] {
        let formula = try ChemicalFormula(parsing: text)
        return Dictionary(uniqueKeysWithValues: formula.composition.map { ($0.element.symbol, $0.amount) })
    }

    @Test func parenthesesMultiplyAndOrderIsFirstAppearance() throws {
        let formula = try ChemicalFormula(parsing: "Fe2(SO4)3")
        #expect(formula.composition.map(\.element.symbol) == ["Fe", "S", "O"])
        #expect(formula.composition.map(\.amount) == [2, 3, 12])
        #expect(try amounts("Ca3(PO4)2") == ["Ca": 3, "P": 2, "O": 8])
        #expect(try amounts("K4[Fe(CN)6]") == ["K": 4, "Fe": 1, "C": 6, "N": 6])
        #expect(try amounts("CH3COOH") == ["C": 2, "H": 4, "O": 2])
    }

    @Test func decimalAmountsAndFractions() throws {
        let formula = try ChemicalFormula(parsing: "Ca0.5Sr0.5TiO3")
        #expect(formula.composition.map(\.amount) == [0.5, 0.5, 1, 3])
        #expect(formula.fractions.map(\.fraction) == [0.1, 0.1, 0.2, 0.6])
        #expect(try amounts("Ag0.5Ge1Pb1.75S4") == ["Ag": 0.5, "Ge": 1, "Pb": 1.75, "S": 4])
    }

    @Test func hydrateDots() throws {
        let copperSulfate: [String: Double] = ["Cu": 1, "S": 1, "O": 9, "H": 10]
        #expect(try amounts("CuSO4·5H2O") == copperSulfate)
        #expect(try amounts("CuSO4•5H2O") == copperSulfate)
        #expect(try amounts("CuSO4*5H2O") == copperSulfate)
        #expect(try amounts("CuSO4.H2O") == ["Cu": 1, "S": 1, "O": 5, "H": 2])
        #expect(try amounts("CaSO4·0.5H2O") == ["Ca": 1, "S": 1, "O": 4.5, "H": 1])
        // A '.' between digits is a decimal point: O 4.5, then H2O.
        #expect(try amounts("CuSO4.5H2O") == ["Cu": 1, "S": 1, "O": 5.5, "H": 2])
    }

    @Test func everyMatbenchFormulaParses() throws {
        let bandGaps = try CSVTable.read(path: try TestData.path("materials/expt_gap.csv"), requiredColumns: ["formula"])
        let steels = try CSVTable.read(path: try TestData.path("materials/steels_yield.csv"), requiredColumns: ["formula"])
        let gapFormulas = try bandGaps.formulas("formula")
        let steelFormulas = try steels.formulas("formula")
        #expect(gapFormulas.count == 4_604)
        #expect(steelFormulas.count == 312)
        for formula in gapFormulas + steelFormulas {
            #expect(abs(formula.fractions.reduce(0) { $0 + $1.fraction } - 1) < 1e-12, "\(formula.text)")
        }
    }

    @Test func errorsNameFormulaAndPosition() {
        let cases: [(text: String, message: String)] = [
            ("Xx2O", "'Xx2O': unknown element 'Xx' at position 1"),
            ("Fe2(SO4", "'Fe2(SO4': '(' at position 4 is never closed"),
            ("Fe2)", "'Fe2)': ')' at position 4 has no matching opening bracket"),
            ("", "'': the formula is empty"),
            ("H2O!", "'H2O!': unexpected character '!' at position 4"),
            ("(Fe]", "'(Fe]': ']' at position 4 does not match '(' at position 1"),
            ("H0", "'H0': the total amount is zero"),
            ("CuSO4·", "'CuSO4·': expected an element at the end"),
            ("()", "'()': expected an element or '(' at position 2, found ')'"),
            ("Fe 2", "'Fe 2': unexpected character ' ' at position 3"),
        ]
        for (text, message) in cases {
            let error = #expect(throws: DataError.self) { try ChemicalFormula(parsing: text) }
            #expect(error?.message == message)
            #expect(error?.file == "<formula>")
        }
    }

    @Test func tableFormulaErrorsNameFileLineAndColumn() throws {
        let table = try CSVTable(parsing: "formula,target\nFe2O3,1\nXx,2\n", file: "f.csv")
        let error = #expect(throws: DataError.self) { try table.formulas("formula") }
        #expect(error?.description == "f.csv:3: column 'formula': 'Xx': unknown element 'Xx' at position 1")
    }

    @Test func periodicTableMatchesMat2vecOrder() throws {
        #expect(Element.all.count == 118)
        #expect(Element(symbol: "Fe")?.atomicNumber == 26)
        #expect(Element(symbol: "Og")?.name == "Oganesson")
        #expect(Element(symbol: "CO") == nil)
        let table = try CSVTable.read(path: try TestData.path("materials/elements/mat2vec.csv"), requiredColumns: ["element"])
        #expect(try table.strings("element") == Element.all.map(\.symbol))
    }
}

@Suite struct ProteinAlphabetTests {
    @Test func idsMatchESM2() {
        #expect(ProteinAlphabet.count == 33 && ProteinAlphabet.tokens.count == 33)
        #expect(ProteinAlphabet.tokens.joined(separator: " ")
            == "<cls> <pad> <eos> <unk> L A G V S E R T I D P K Q N F Y M H W C X B U Z O . - <null_1> <mask>")
        let specialIds: [Int] = [ProteinAlphabet.cls, ProteinAlphabet.pad, ProteinAlphabet.eos, ProteinAlphabet.unk]
        #expect(specialIds == [0, 1, 2, 3])
        #expect(ProteinAlphabet.mask == 32)
        #expect(["L", "A", "C", "X", "O", ".", "-", "<null_1>"].map { ProteinAlphabet.id(of: $0) }
            == [4, 5, 23, 24, 28, 29, 30, 31])
    }

    @Test func encodesLikeEsmTokenizer() {
        // Expected ids from transformers' EsmTokenizer on the facebook/esm2 vocab.txt.
        #expect(ProteinAlphabet.encode("MKTVLA") == [0, 20, 15, 11, 7, 4, 5, 2])
        #expect(ProteinAlphabet.encode("MK TV") == [0, 20, 15, 11, 7, 2])
        #expect(ProteinAlphabet.encode("MK<mask>TV") == [0, 20, 15, 32, 11, 7, 2])
        #expect(ProteinAlphabet.encode("MKJ*") == [0, 20, 15, 3, 2])
        #expect(ProteinAlphabet.encode("mktv") == [0, 3, 2])
        #expect(ProteinAlphabet.encode("A.-<null_1>B") == [0, 5, 29, 30, 31, 25, 2])
        #expect(ProteinAlphabet.encode("", addSpecialTokens: false) == [])
    }

    @Test func roundTrip() throws {
        let records = try FASTAReader.readAll(path: try TestData.path("protein/bacterial_proteome.faa"))
        for record in records.prefix(200) {
            let ids = ProteinAlphabet.encode(record.sequence, addSpecialTokens: false)
            #expect(ids.count == record.sequence.count)
            #expect(ProteinAlphabet.decode(ids) == record.sequence)
        }
        #expect(ProteinAlphabet.decode(ProteinAlphabet.encode("MK<mask>")) == "<cls>MK<mask><eos>")
        #expect(ProteinAlphabet.decode([5, 99, -1]) == "A<unk><unk>")
    }
}

/// Applies 1 to 4 random flips, insertions or deletions; insertions favour `interesting` elements.
private func mutate<Item>(
    _ input: [Item], interesting: [Item], random: (inout RandomGenerator) -> Item, generator: inout RandomGenerator
) -> [Item] {
    var output = input
    for _ in 0..<Int.random(in: 1...4, using: &generator) {
        let position = Int.random(in: 0...output.count, using: &generator)
        let replacement = Bool.random(using: &generator)
            ? interesting.randomElement(using: &generator)! : random(&generator)
        switch Int.random(in: 0..<3, using: &generator) {
        case 0 where position < output.count: output[position] = replacement
        case 1: output.insert(replacement, at: position)
        default: if position < output.count { output.remove(at: position) }
        }
    }
    return output
}

@Suite struct ReaderFuzzTests {
    @Test func fastaReaderOnlyThrowsDataError() throws {
        let seeds = [">a desc\nMKTV\nLA*\n>b\r\nacde\r\n", ">x\nMKLV\n\n>y\nBZUOX\n", ">only\nM\n"].map { Array($0.utf8) }
        let interesting = Array(">*\n\r JX1-aé".utf8)
        let path = try temporaryFile(Data(), suffix: ".faa")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var generator = RandomGenerator(seed: 2024)
        for iteration in 0..<2_000 {
            let bytes = mutate(seeds[iteration % seeds.count], interesting: interesting,
                               random: { UInt8.random(in: 0...255, using: &$0) }, generator: &generator)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do {
                let records = try FASTAReader.readAll(path: path, policy: iteration % 2 == 0 ? .reject : .mapToUnknown)
                #expect(records.allSatisfy { !$0.sequence.isEmpty }, "iteration \(iteration)")
            } catch is DataError {
                continue
            } catch {
                Issue.record("iteration \(iteration): \(error) is not a DataError")
            }
        }
    }

    @Test func formulaParserOnlyThrowsDataError() {
        let seeds = ["Fe2(SO4)3", "CuSO4·5H2O", "K4[Fe(CN)6]", "Ca0.5Sr0.5TiO3", "Ag(W3Br7)2"].map { Array($0) }
        let interesting = Array("()[]·•*.0123456789HeOFeXx! ")
        var generator = RandomGenerator(seed: 7)
        for iteration in 0..<5_000 {
            let characters = mutate(seeds[iteration % seeds.count], interesting: interesting,
                                    random: { Character(Unicode.Scalar(UInt8.random(in: 0...127, using: &$0))) },
                                    generator: &generator)
            do {
                let formula = try ChemicalFormula(parsing: String(characters))
                let total = formula.fractions.reduce(0) { $0 + $1.fraction }
                #expect(abs(total - 1) < 1e-9, "iteration \(iteration): \(formula.text)")
            } catch is DataError {
                continue
            } catch {
                Issue.record("iteration \(iteration): \(error) is not a DataError")
            }
        }
    }
}
