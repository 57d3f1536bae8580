/// A chemical element of the periodic table.
///
/// Elements are compared by all three properties, which amounts to comparing atomic numbers
/// because every element comes from the one table in ``Element/all``.
public struct Element: Hashable, Sendable, CustomStringConvertible {
    /// The IUPAC symbol: one capital letter and at most one lower-case letter (`Fe`, `O`).
    public let symbol: String
    /// The number of protons, 1 (H) through 118 (Og).
    public let atomicNumber: Int
    /// The IUPAC English name (`Iron`, `Sulfur`, `Caesium`).
    public let name: String

    private init(symbol: String, atomicNumber: Int, name: String) {
        self.symbol = symbol
        self.atomicNumber = atomicNumber
        self.name = name
    }

    /// Looks an element up by its exact, case-sensitive symbol; `nil` if there is none (`Co` is
    /// cobalt, `CO` and `co` are not symbols).
    public init?(symbol: String) {
        guard let element = Element.bySymbol[symbol] else { return nil }
        self = element
    }

    /// The symbol.
    public var description: String { symbol }

    /// All 118 elements in order of atomic number: `all[z - 1].atomicNumber == z`.
    public static let all: [Element] = symbolsAndNames.enumerated().map { index, entry in
        Element(symbol: entry.symbol, atomicNumber: index + 1, name: entry.name)
    }

    private static let bySymbol: [String: Element] = Dictionary(
        uniqueKeysWithValues: all.map { ($0.symbol, $0) })

    /// Symbols and names, in order of atomic number from 1.
    private static let symbolsAndNames: [(symbol: String, name: String)] = [
        ("H", "Hydrogen"), ("He", "Helium"), ("Li", "Lithium"), ("Be", "Beryllium"),
        ("B", "Boron"), ("C", "Carbon"), ("N", "Nitrogen"), ("O", "Oxygen"),
        ("F", "Fluorine"), ("Ne", "Neon"), ("Na", "Sodium"), ("Mg", "Magnesium"),
        ("Al", "Aluminium"), ("Si", "Silicon"), ("P", "Phosphorus"), ("S", "Sulfur"),
        ("Cl", "Chlorine"), ("Ar", "Argon"), ("K", "Potassium"), ("Ca", "Calcium"),
        ("Sc", "Scandium"), ("Ti", "Titanium"), ("V", "Vanadium"), ("Cr", "Chromium"),
        ("Mn", "Manganese"), ("Fe", "Iron"), ("Co", "Cobalt"), ("Ni", "Nickel"),
        ("Cu", "Copper"), ("Zn", "Zinc"), ("Ga", "Gallium"), ("Ge", "Germanium"),
        ("As", "Arsenic"), ("Se", "Selenium"), ("Br", "Bromine"), ("Kr", "Krypton"),
        ("Rb", "Rubidium"), ("Sr", "Strontium"), ("Y", "Yttrium"), ("Zr", "Zirconium"),
        ("Nb", "Niobium"), ("Mo", "Molybdenum"), ("Tc", "Technetium"), ("Ru", "Ruthenium"),
        ("Rh", "Rhodium"), ("Pd", "Palladium"), ("Ag", "Silver"), ("Cd", "Cadmium"),
        ("In", "Indium"), ("Sn", "Tin"), ("Sb", "Antimony"), ("Te", "Tellurium"),
        ("I", "Iodine"), ("Xe", "Xenon"), ("Cs", "Caesium"), ("Ba", "Barium"),
        ("La", "Lanthanum"), ("Ce", "Cerium"), ("Pr", "Praseodymium"), ("Nd", "Neodymium"),
        ("Pm", "Promethium"), ("Sm", "Samarium"), ("Eu", "Europium"), ("Gd", "Gadolinium"),
        ("Tb", "Terbium"), ("Dy", "Dysprosium"), ("Ho", "Holmium"), ("Er", "Erbium"),
        ("Tm", "Thulium"), ("Yb", "Ytterbium"), ("Lu", "Lutetium"), ("Hf", "Hafnium"),
        ("Ta", "Tantalum"), ("W", "Tungsten"), ("Re", "Rhenium"), ("Os", "Osmium"),
        ("Ir", "Iridium"), ("Pt", "Platinum"), ("Au", "Gold"), ("Hg", "Mercury"),
        ("Tl", "Thallium"), ("Pb", "Lead"), ("Bi", "Bismuth"), ("Po", "Polonium"),
        ("At", "Astatine"), ("Rn", "Radon"), ("Fr", "Francium"), ("Ra", "Radium"),
        ("Ac", "Actinium"), ("Th", "Thorium"), ("Pa", "Protactinium"), ("U", "Uranium"),
        ("Np", "Neptunium"), ("Pu", "Plutonium"), ("Am", "Americium"), ("Cm", "Curium"),
        ("Bk", "Berkelium"), ("Cf", "Californium"), ("Es", "Einsteinium"), ("Fm", "Fermium"),
        ("Md", "Mendelevium"), ("No", "Nobelium"), ("Lr", "Lawrencium"), ("Rf", "Rutherfordium"),
        ("Db", "Dubnium"), ("Sg", "Seaborgium"), ("Bh", "Bohrium"), ("Hs", "Hassium"),
        ("Mt", "Meitnerium"), ("Ds", "Darmstadtium"), ("Rg", "Roentgenium"), ("Cn", "Copernicium"),
        ("Nh", "Nihonium"), ("Fl", "Flerovium"), ("Mc", "Moscovium"), ("Lv", "Livermorium"),
        ("Ts", "Tennessine"), ("Og", "Oganesson"),
    ]
}
