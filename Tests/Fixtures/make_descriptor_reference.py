#!/usr/bin/env python3
"""Reference values for Tests/KibanDataTests/DescriptorTests.swift, written independently of the Swift
code from the published definitions: Eisenberg's normalised consensus hydrophobicity (1984), EMBOSS
pKa values for the net charge, the hydrophobic moment |sum h_n exp(i n 100 deg)| / length.

    python3 Tests/Fixtures/make_descriptor_reference.py
"""
import math

HYDROPHOBICITY = {"A": 0.62, "R": -2.53, "N": -0.78, "D": -0.90, "C": 0.29, "Q": -0.85, "E": -0.74, "G": 0.48, "H": -0.40,
                  "I": 1.38, "L": 1.06, "K": -1.50, "M": 0.64, "F": 1.19, "P": 0.12, "S": -0.18, "T": -0.05, "W": 0.81,
                  "Y": 0.26, "V": 1.08}
BASIC = {"K": 10.8, "R": 12.5, "H": 6.5}
ACIDIC = {"D": 3.9, "E": 4.1, "C": 8.5, "Y": 10.1}


def descriptors(sequence, ph=7.0):
    charged_up = lambda pka: 1 / (1 + 10 ** (ph - pka))
    charged_down = lambda pka: 1 / (1 + 10 ** (pka - ph))
    charge = charged_up(8.6) - charged_down(3.6)
    charge += sum(charged_up(BASIC[r]) for r in sequence if r in BASIC)
    charge -= sum(charged_down(ACIDIC[r]) for r in sequence if r in ACIDIC)
    h = [HYDROPHOBICITY.get(r, 0.0) for r in sequence]
    angle = math.radians(100)
    moment = math.hypot(sum(v * math.cos(i * angle) for i, v in enumerate(h)), sum(v * math.sin(i * angle) for i, v in enumerate(h)))
    n = len(sequence)
    return [n, charge, sum(h) / n, moment / n, sum(r in "FWY" for r in sequence) / n, sum(r in "DEKR" for r in sequence) / n]


for peptide in ["KLAKLAK", "GIGKFLHSAKKFGKAFVGEIMNS", "DEWYX"]:
    print(peptide, [repr(value) for value in descriptors(peptide)])
