"""Exits 0 when every `name==version` of a requirements file is installed at that version; else
prints what is missing or different (one line) and exits 1. Imports nothing it checks.

Usage: python3 Tests/Interop/pinned_stack.py requirements.txt
"""

import sys
from importlib import metadata


def main():
    problems = []
    for line in open(sys.argv[1]):
        requirement = line.split("#", 1)[0].strip()
        if not requirement:
            continue
        name, _, wanted = requirement.partition("==")
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            problems.append(f"{name} is not installed")
            continue
        if wanted and installed.split("+", 1)[0] != wanted:
            problems.append(f"{name} {installed} instead of {wanted}")
    print("; ".join(problems))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
