import Foundation
import KibanData
import Testing

// Tests of the structure readers: PDB backbones, POSCAR and CIF crystals, periodic neighbour
// distances, and the errors of each. The fixtures are in `Tests/Fixtures/structures`.

/// The path of a file in `Tests/Fixtures/structures`.
private func fixture(_ name: String) -> String {
    URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/structures/\(name)").path
}

/// The distance between two points.
private func distance(_ u: SIMD3<Double>, _ v: SIMD3<Double>) -> Double {
    ((u - v) * (u - v)).sum().squareRoot()
}

/// The description of the ``DataError`` that `read` throws for `text` written to a temporary file,
/// with the temporary path replaced by `name`; `nil` if nothing is thrown.
private func readingError<Value>(
    _ text: String, as name: String, _ read: (String) throws -> Value
) throws -> String? {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("kiban-\(UUID().uuidString)-\(name)")
    try Data(text.utf8).write(to: url)
    defer { try? FileManager.default.removeItem(at: url) }
    do {
        _ = try read(url.path)
        return nil
    } catch let error as DataError {
        return error.description.replacingOccurrences(of: url.path, with: name)
    }
}

/// An `ATOM` record in the fixed PDB columns.
private func atom(
    _ name: String, _ residue: String, chain: Character = "A", number: Int, altLoc: Character = " ",
    insertionCode: Character = " ", x: Double = 0, y: Double = 0, z: Double = 0
) -> String {
    func right(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
    let paddedName = (" " + name).padding(toLength: 4, withPad: " ", startingAt: 0)
    let coordinates = [x, y, z].map { right(String(format: "%.3f", $0), 8) }.joined()
    return "ATOM      1 \(paddedName)\(altLoc)\(residue) \(chain)\(right(String(number), 4))\(insertionCode)   "
        + coordinates + "  1.00  0.00"
}

/// The backbone atoms of one residue, each at its own made-up position.
private func backbone(
    _ residue: String, chain: Character = "A", number: Int, insertionCode: Character = " "
) -> [String] {
    ["N", "CA", "C", "O"].enumerated().map { index, name in
        atom(name, residue, chain: chain, number: number, insertionCode: insertionCode, x: Double(index))
    }
}

@Suite struct ProteinBackboneTests {
    @Test func readsTheCrambinFragment() throws {
        let structure = try ProteinBackbone.read(path: fixture("crambin_fragment.pdb"))
        #expect(structure.chains == ["A"])
        #expect(structure.sequence(chain: "A") == "TTCCP")
        #expect(structure.residues.map(\.number) == [1, 2, 3, 4, 5])
        #expect(structure.residues.map(\.name) == ["THR", "THR", "CYS", "CYS", "PRO"])
        #expect(structure.residues.allSatisfy { $0.insertionCode == nil })
        #expect(structure.droppedResidueCount == 0)
        #expect(structure.residues[0].n == SIMD3(17.047, 14.099, 3.625))
        #expect(structure.residues[4].c == SIMD3(9.288, 7.670, 15.606))
        for residue in structure.residues {
            #expect(abs(distance(residue.n, residue.ca) - 1.46) < 0.05, "N–CA of residue \(residue.number)")
            #expect(abs(distance(residue.ca, residue.c) - 1.52) < 0.05, "CA–C of residue \(residue.number)")
        }
        // The peptide bond C(i)–N(i+1) is about 1.33 Å.
        for (residue, next) in zip(structure.residues, structure.residues.dropFirst()) {
            #expect(abs(distance(residue.c, next.n) - 1.33) < 0.05)
        }
    }

    @Test func alternateLocationsModelsChainsAndIncompleteResidues() throws {
        let lines = ["MODEL        1"] + backbone("ALA", number: 1)
            + [atom("N", "GLY", number: 2), atom("C", "GLY", number: 2)]  // no CA: dropped
            + [
                atom("N", "SER", number: 3),
                atom("CA", "SER", number: 3, altLoc: "B", x: 9),
                atom("CA", "SER", number: 3, altLoc: "A", x: 1),
                atom("C", "SER", number: 3),
            ]
            + backbone("MSE", number: 4)
            + ["TER"] + backbone("TRP", chain: "B", number: 7, insertionCode: "A")
            + backbone("LYS", number: 5)  // chain A again: grouped with the first A residues
            + ["ENDMDL", "MODEL        2"] + backbone("CYS", chain: "C", number: 1) + ["ENDMDL", "END"]
        let structure = try ProteinBackbone(parsing: lines.joined(separator: "\r\n"), file: "m.pdb")
        #expect(structure.chains == ["A", "B"])
        #expect(structure.sequence(chain: "A") == "ASXK")
        #expect(structure.sequence(chain: "B") == "W")
        #expect(structure.sequence(chain: "C") == "")
        #expect(structure.residues.map(\.number) == [1, 3, 4, 5, 7])
        #expect(structure.residues(chain: "B")[0].insertionCode == "A")
        #expect(structure.residues[1].ca.x == 1)
        #expect(structure.droppedResidueCount == 1)
    }

    @Test func errorsNameFileAndLine() throws {
        let read = { (path: String) in try ProteinBackbone.read(path: path) }
        var badCoordinate = backbone("ALA", number: 1)
        badCoordinate[1] = badCoordinate[1].replacingOccurrences(of: "   0.000  1.00", with: "     abc  1.00")
        #expect(try readingError((["HEADER"] + badCoordinate).joined(separator: "\n"), as: "x.pdb", read)
            == "x.pdb:3: ATOM record: z 'abc' (columns 47–54) is not a number")
        let badNumber = atom("CA", "ALA", number: 1).replacingOccurrences(of: " A   1", with: " A  1X")
        #expect(try readingError(badNumber, as: "x.pdb", read)
            == "x.pdb:1: ATOM record: residue number '1X' (columns 23–26) is not an integer")
        let short = String(atom("CA", "ALA", number: 1).prefix(40))
        #expect(try readingError("REMARK\n" + short, as: "x.pdb", read)
            == "x.pdb:2: ATOM record has 40 characters; coordinates need columns 31–54")
        #expect(try readingError("HEADER\nHETATM    1  O   HOH A   1\nEND\n", as: "x.pdb", read)
            == "x.pdb: no ATOM records")
        #expect(try readingError("", as: "x.pdb", read) == "x.pdb: no ATOM records")
    }
}

@Suite struct CrystalTests {
    @Test func siliconFromCIF() throws {
        let silicon = try Crystal.readCIF(path: fixture("silicon.cif"))
        #expect(silicon.species.count == 8 && silicon.species.allSatisfy { $0.symbol == "Si" })
        #expect(silicon.formula == "Si")
        #expect(silicon.lattice == [SIMD3(5.431, 0, 0), SIMD3(0, 5.431, 0), SIMD3(0, 0, 5.431)])
        #expect(abs(silicon.volume - 5.431 * 5.431 * 5.431) < 1e-9)
        #expect(silicon.cartesianCoordinates[4] == SIMD3(1.35775, 1.35775, 1.35775))
        let pairs = silicon.distances(cutoff: 2.5)
        for atom in 0..<8 { #expect(pairs.filter { $0.i == atom }.count == 4) }
        #expect(pairs.allSatisfy { abs($0.distance - 2.352) < 5e-4 })
        #expect(pairs.allSatisfy { abs($0.distance - 5.431 * 3.0.squareRoot() / 4) < 1e-12 })
    }

    @Test func rockSaltFromPOSCAR() throws {
        let salt = try Crystal.readPOSCAR(path: fixture("NaCl.poscar"))
        #expect(salt.formula == "NaCl")
        #expect(salt.species.map(\.symbol) == ["Na", "Na", "Na", "Na", "Cl", "Cl", "Cl", "Cl"])
        #expect(abs(salt.volume - 5.64 * 5.64 * 5.64) < 1e-9)
        let pairs = salt.distances(cutoff: 3.0)
        for atom in 0..<8 { #expect(pairs.filter { $0.i == atom }.count == 6) }
        #expect(pairs.allSatisfy { abs($0.distance - 2.82) < 1e-12 })
        #expect(pairs.allSatisfy { salt.species[$0.i] != salt.species[$0.j] })
    }

    @Test func cartesianPOSCAREqualsDirect() throws {
        let direct = try Crystal.readPOSCAR(path: fixture("NaCl.poscar"))
        let cartesian = try Crystal.readPOSCAR(path: fixture("NaCl_cartesian.poscar"))
        #expect(cartesian.species == direct.species)
        #expect(cartesian.lattice == direct.lattice)
        for (c, d) in zip(cartesian.fractionalCoordinates, direct.fractionalCoordinates) {
            #expect(distance(c, d) < 1e-12)
        }
    }

    @Test func negativeScaleIsTheVolume() throws {
        let text = "cubic, volume 27\n-27\n1 0 0\n0 1 0\n0 0 1\nPo\n1\nDirect\n0 0 0\n"
        let polonium = try Crystal(poscar: text)
        #expect(abs(polonium.volume - 27) < 1e-9)
        #expect(abs(polonium.lattice[0].x - 3) < 1e-12)
    }

    @Test func cellsSmallerThanTheCutoffSearchMoreImages() throws {
        let cubic = try Crystal(poscar: "simple cubic\n1.0\n1 0 0\n0 1 0\n0 0 1\nPo\n1\nDirect\n0.2 0.3 0.9\n")
        let pairs = cubic.distances(cutoff: 1.5)  // 6 images at 1 Å and 12 at √2 Å, none of them at 0
        #expect(pairs.count == 18)
        #expect(pairs.filter { abs($0.distance - 1) < 1e-12 }.count == 6)
        #expect(cubic.distances(cutoff: 0).isEmpty)
    }

    @Test func cifLabelsUncertaintiesAndObliqueCells() throws {
        let text = """
            # a hexagonal cell, mmCIF-style tags, labels only
            data_test
            _cell.length_a 3.0(1)
            _cell.length_b 3.0
            _cell.length_c 5.0
            _cell.angle_alpha 90
            _cell.angle_beta 90
            _cell.angle_gamma 120.0(2)
            _exptl_crystal_description
            ;
            a text field with 'quotes'
            ;
            loop_
            _space_group_symop.operation_xyz
            '+x, +y, +z'
            loop_
            _atom_site.label
            _atom_site.fract_x
            _atom_site.fract_y
            _atom_site.fract_z
            Ow1 0.3333(4) 0.6667 0.25
            Zn2 0.6667 0.3333 0.75   # a comment
            """
        let crystal = try Crystal(cif: text)
        #expect(crystal.species.map(\.symbol) == ["O", "Zn"])
        #expect(crystal.formula == "OZn")
        #expect(abs(crystal.volume - 9 * 5 * 3.0.squareRoot() / 2) < 1e-9)
        #expect(abs(crystal.lattice[1].x + 1.5) < 1e-12)
        #expect(crystal.fractionalCoordinates[0] == SIMD3(0.3333, 0.6667, 0.25))
    }

    @Test func poscarErrorsNameFileAndLine() throws {
        let read = { (path: String) in try Crystal.readPOSCAR(path: path) }
        let header = "NaCl\n1.0\n5.64 0 0\n0 5.64 0\n0 0 5.64\n"
        let cases: [(text: String, message: String)] = [
            (header + "Na Xx\n1 1\nDirect\n0 0 0\n0.5 0.5 0.5\n", "x.poscar:6: unknown element 'Xx'"),
            (header + "Na Cl\n1 1 1\nDirect\n", "x.poscar:7: 3 atom counts for 2 element symbols"),
            (header + "Na Cl\n1 1\nDirect\n0 0 0\n0.5 0.5\n",
             "x.poscar:10: the position of atom 2 of 2: expected 3 numbers, found 2"),
            (header + "Na Cl\n1 1\nDirect\n0 0 0\n0.5 x 0.5\n",
             "x.poscar:10: the position of atom 2 of 2: 'x' is not a number"),
            (header + "Na Cl\n1 1\nDirect\n0 0 0\n", "x.poscar:10: the file ends before the position of atom 2 of 2"),
            (header + "Na Cl\n1 1\nFractional\n0 0 0\n0.5 0.5 0.5\n",
             "x.poscar:8: expected 'Direct' or 'Cartesian', found 'Fractional'"),
            (header + "Na Cl\n1 1000000000000\nDirect\n0 0 0\n",
             "x.poscar:7: the atom counts add up to more atoms than the 2 lines that follow"),
            (header + "1 1\nDirect\n",
             "x.poscar:6: expected element symbols (VASP 5 POSCAR), found numbers; VASP 4 files are not supported"),
            ("NaCl\n1.0\n1 0 0\n2 0 0\n0 0 1\nNa\n1\nDirect\n0 0 0\n",
             "x.poscar:3: degenerate lattice: the vectors span a volume of 0.0 Å³"),
            ("NaCl\n0\n", "x.poscar:2: the scale factor is 0"),
        ]
        for (text, message) in cases {
            let error = try readingError(text, as: "x.poscar", read)
            #expect(error == message)
        }
    }

    @Test func cifErrorsNameFileAndLine() throws {
        let read = { (path: String) in try Crystal.readCIF(path: path) }
        let cell = """
            data_x
            _cell_length_a 4
            _cell_length_b 4
            _cell_length_c 4
            _cell_angle_alpha 90
            _cell_angle_beta 90
            _cell_angle_gamma 90

            """
        let sites = "loop_\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\n"
        let cases: [(text: String, message: String)] = [
            ("# no b\ndata_x\n_cell_length_a 4\n_cell_length_c 4\n", "x.cif:2: missing _cell_length_b"),
            (cell + sites + "Fe 0 0 0\nXx 0.5 0.5 0.5\n", "x.cif:14: unknown element 'Xx'"),
            (cell + sites + "Fe 0 0 0\nO 0.5 0.5\n", "x.cif:8: loop_ with 4 tags has 7 values, not a multiple"),
            (cell + sites + "Fe 0 0 ?\n", "x.cif:13: _atom_site_fract_z '?' is not a number"),
            (cell + "loop_\n_symmetry_equiv_pos_as_xyz\n'x, y, z'\n'-x, -y, -z'\n" + sites + "Fe 0 0 0\n",
             "x.cif:11: symmetry operation '-x, -y, -z' is not the identity; symmetry is not applied, "
                + "so list every atom of the cell (P1)"),
            (cell.replacingOccurrences(of: "90", with: "120") + sites + "Fe 0 0 0\n",
             "x.cif:5: degenerate lattice: the vectors span a volume of"),
            (cell.replacingOccurrences(of: "_cell_length_c 4", with: "_cell_length_c -4") + sites + "Fe 0 0 0\n",
             "x.cif:4: _cell_length_c '-4' is not a valid value"),
            (cell + "loop_\n_atom_site_label\n_atom_site_fract_x\nFe 0\n",
             "x.cif:8: the _atom_site_ loop has no _atom_site_fract_y"),
            (cell + "_title 'open\n", "x.cif:8: quoted value is not closed"),
        ]
        for (text, message) in cases {
            let error = try readingError(text, as: "x.cif", read)
            #expect(error?.hasPrefix(message) == true, "\(error ?? "no error"), expected \(message)")
        }
    }
}
