"""Reading a sequence to fold: a raw H/P string, a raw amino-acid string, or a FASTA file.

Amino acids are mapped to H/P by the sign of the Kyte-Doolittle hydropathy index (Kyte & Doolittle,
J. Mol. Biol. 157:105, 1982): positive is hydrophobic (H), the rest polar (P).

| residue | I | V | L | F | C | M | A | G | T | S | W | Y | P | H | E | Q | D | N | K | R |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
| KD index | 4.5 | 4.2 | 3.8 | 2.8 | 2.5 | 1.9 | 1.8 | -0.4 | -0.7 | -0.8 | -0.9 | -1.3 | -1.6 | -3.2 | -3.5 | -3.5 | -3.5 | -3.5 | -3.9 | -4.5 |
| HP | H | H | H | H | H | H | H | P | P | P | P | P | P | P | P | P | P | P | P | P |

Ambiguity codes (B, Z, J, X), selenocysteine (U) and pyrrolysine (O) have no agreed hydropathy and are
refused with the position named. A string of only H and P is read as an HP sequence (note: H is also
histidine; a protein of only His and Pro is far less likely than an HP benchmark).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .lattice import MAX_LENGTH, check_sequence

KYTE_DOOLITTLE = {
    "I": 4.5, "V": 4.2, "L": 3.8, "F": 2.8, "C": 2.5, "M": 1.9, "A": 1.8, "G": -0.4, "T": -0.7, "S": -0.8,
    "W": -0.9, "Y": -1.3, "P": -1.6, "H": -3.2, "E": -3.5, "Q": -3.5, "D": -3.5, "N": -3.5, "K": -3.9, "R": -4.5,
}  # fmt: skip
MAX_FASTA_BYTES = 1 << 20


def to_hp(residues: str) -> str:
    """Amino-acid one-letter codes -> H/P by the table above; InputError naming the first unknown code."""
    out = []
    for i, c in enumerate(residues.upper()):
        kd = KYTE_DOOLITTLE.get(c)
        if kd is None:
            raise InputError(f"residue {i + 1} is {c!r}: not one of the 20 standard amino acids")
        out.append("H" if kd > 0 else "P")
    return "".join(out)


def parse_fasta(text: str) -> tuple[str, str]:
    """(name, residues) of the first record of FASTA text."""
    name, parts, seen = "", [], False
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(";"):
            continue
        if line.startswith(">"):
            if seen:
                break
            seen, name = True, line[1:].strip()
            continue
        parts.append("".join(line.split()).rstrip("*"))
    residues = "".join(parts)
    if not residues:
        raise InputError("the FASTA text has no sequence")
    return name, residues


def read_sequence(arg: str) -> tuple[str, str, str]:
    """(name, source residues, HP sequence) from a SEQUENCE argument or a file path."""
    path = Path(arg)
    try:
        is_file = path.is_file()
    except (OSError, ValueError):  # a long sequence is no valid file name
        is_file = False
    if is_file:
        if path.stat().st_size > MAX_FASTA_BYTES:
            raise InputError(f"{path} is larger than {MAX_FASTA_BYTES} bytes")
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"cannot read {path}: {e}") from None
        if text.lstrip().startswith(">"):
            name, residues = parse_fasta(text)
        else:
            name, residues = path.stem, "".join(text.split())
    else:
        name, residues = "", "".join(arg.split())
    if not residues:
        raise InputError("the sequence is empty")
    if len(residues) > MAX_LENGTH:
        raise InputError(f"a sequence of {len(residues)} residues is above the limit of {MAX_LENGTH}")
    upper = residues.upper()
    hp = upper if set(upper) <= {"H", "P"} else to_hp(upper)
    return name, residues, check_sequence(hp)
