"""Script bytes as tokens, and output script classification.

The tokenizer keeps each push's encoding (direct, PUSHDATA1/2/4), so non-minimal pushes survive a
round trip; a push that runs past the end of the script becomes a final ``truncated`` token that
carries the remaining bytes, so any byte string tokenizes and re-serializes exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from ..errors import ParseError

# Opcode values (names as in Core's script.h).
OP_0 = 0x00
OP_PUSHDATA1 = 0x4C
OP_PUSHDATA2 = 0x4D
OP_PUSHDATA4 = 0x4E
OP_1NEGATE = 0x4F
OP_RESERVED = 0x50
OP_1 = 0x51
OP_16 = 0x60
OP_NOP = 0x61
OP_VER = 0x62
OP_IF = 0x63
OP_NOTIF = 0x64
OP_VERIF = 0x65
OP_VERNOTIF = 0x66
OP_ELSE = 0x67
OP_ENDIF = 0x68
OP_VERIFY = 0x69
OP_RETURN = 0x6A
OP_DUP = 0x76
OP_EQUAL = 0x87
OP_EQUALVERIFY = 0x88
OP_HASH160 = 0xA9
OP_CODESEPARATOR = 0xAB
OP_CHECKSIG = 0xAC
OP_CHECKSIGVERIFY = 0xAD
OP_CHECKMULTISIG = 0xAE
OP_CHECKMULTISIGVERIFY = 0xAF
OP_CHECKLOCKTIMEVERIFY = 0xB1
OP_CHECKSEQUENCEVERIFY = 0xB2
OP_CHECKSIGADD = 0xBA
OP_INVALIDOPCODE = 0xFF

OPCODE_NAMES: dict[int, str] = {
    0x00: "OP_0", 0x4C: "OP_PUSHDATA1", 0x4D: "OP_PUSHDATA2", 0x4E: "OP_PUSHDATA4", 0x4F: "OP_1NEGATE",
    0x50: "OP_RESERVED", 0x61: "OP_NOP", 0x62: "OP_VER", 0x63: "OP_IF", 0x64: "OP_NOTIF", 0x65: "OP_VERIF",
    0x66: "OP_VERNOTIF", 0x67: "OP_ELSE", 0x68: "OP_ENDIF", 0x69: "OP_VERIFY", 0x6A: "OP_RETURN",
    0x6B: "OP_TOALTSTACK", 0x6C: "OP_FROMALTSTACK", 0x6D: "OP_2DROP", 0x6E: "OP_2DUP", 0x6F: "OP_3DUP",
    0x70: "OP_2OVER", 0x71: "OP_2ROT", 0x72: "OP_2SWAP", 0x73: "OP_IFDUP", 0x74: "OP_DEPTH", 0x75: "OP_DROP",
    0x76: "OP_DUP", 0x77: "OP_NIP", 0x78: "OP_OVER", 0x79: "OP_PICK", 0x7A: "OP_ROLL", 0x7B: "OP_ROT",
    0x7C: "OP_SWAP", 0x7D: "OP_TUCK", 0x7E: "OP_CAT", 0x7F: "OP_SUBSTR", 0x80: "OP_LEFT", 0x81: "OP_RIGHT",
    0x82: "OP_SIZE", 0x83: "OP_INVERT", 0x84: "OP_AND", 0x85: "OP_OR", 0x86: "OP_XOR", 0x87: "OP_EQUAL",
    0x88: "OP_EQUALVERIFY", 0x89: "OP_RESERVED1", 0x8A: "OP_RESERVED2", 0x8B: "OP_1ADD", 0x8C: "OP_1SUB",
    0x8D: "OP_2MUL", 0x8E: "OP_2DIV", 0x8F: "OP_NEGATE", 0x90: "OP_ABS", 0x91: "OP_NOT", 0x92: "OP_0NOTEQUAL",
    0x93: "OP_ADD", 0x94: "OP_SUB", 0x95: "OP_MUL", 0x96: "OP_DIV", 0x97: "OP_MOD", 0x98: "OP_LSHIFT",
    0x99: "OP_RSHIFT", 0x9A: "OP_BOOLAND", 0x9B: "OP_BOOLOR", 0x9C: "OP_NUMEQUAL", 0x9D: "OP_NUMEQUALVERIFY",
    0x9E: "OP_NUMNOTEQUAL", 0x9F: "OP_LESSTHAN", 0xA0: "OP_GREATERTHAN", 0xA1: "OP_LESSTHANOREQUAL",
    0xA2: "OP_GREATERTHANOREQUAL", 0xA3: "OP_MIN", 0xA4: "OP_MAX", 0xA5: "OP_WITHIN", 0xA6: "OP_RIPEMD160",
    0xA7: "OP_SHA1", 0xA8: "OP_SHA256", 0xA9: "OP_HASH160", 0xAA: "OP_HASH256", 0xAB: "OP_CODESEPARATOR",
    0xAC: "OP_CHECKSIG", 0xAD: "OP_CHECKSIGVERIFY", 0xAE: "OP_CHECKMULTISIG", 0xAF: "OP_CHECKMULTISIGVERIFY",
    0xB0: "OP_NOP1", 0xB1: "OP_CHECKLOCKTIMEVERIFY", 0xB2: "OP_CHECKSEQUENCEVERIFY", 0xB3: "OP_NOP4",
    0xB4: "OP_NOP5", 0xB5: "OP_NOP6", 0xB6: "OP_NOP7", 0xB7: "OP_NOP8", 0xB8: "OP_NOP9", 0xB9: "OP_NOP10",
    0xBA: "OP_CHECKSIGADD", 0xFF: "OP_INVALIDOPCODE",
}  # fmt: skip
for _n in range(1, 17):
    OPCODE_NAMES[0x50 + _n] = f"OP_{_n}"
OPCODES_BY_NAME: dict[str, int] = {name: code for code, name in OPCODE_NAMES.items()}
OPCODES_BY_NAME["OP_FALSE"] = 0x00
OPCODES_BY_NAME["OP_TRUE"] = 0x51
OPCODES_BY_NAME["OP_NOP2"] = 0xB1
OPCODES_BY_NAME["OP_NOP3"] = 0xB2


class ScriptToken(NamedTuple):
    """One script element. For pushes ``opcode`` is the push opcode actually used and ``data`` the
    payload; for other opcodes ``data`` is None. ``truncated`` marks a push running past the end, in
    which case ``data`` holds whatever bytes were left after the opcode."""

    opcode: int
    data: bytes | None
    offset: int
    truncated: bool = False


def iter_script(script: bytes | memoryview) -> Iterator[ScriptToken]:
    """Tokenize any byte string; never raises."""
    n = len(script)
    i = 0
    while i < n:
        op = script[i]
        start = i
        i += 1
        if op <= OP_PUSHDATA4:
            if op < OP_PUSHDATA1:
                size = op
            else:
                width = 1 if op == OP_PUSHDATA1 else 2 if op == OP_PUSHDATA2 else 4
                if i + width > n:
                    yield ScriptToken(op, bytes(script[i:]), start, True)
                    return
                size = int.from_bytes(script[i : i + width], "little")
                i += width
            if i + size > n:
                yield ScriptToken(op, bytes(script[start + 1 :]), start, True)
                return
            yield ScriptToken(op, bytes(script[i : i + size]), start)
            i += size
        else:
            yield ScriptToken(op, None, start)


def serialize_tokens(tokens: Iterator[ScriptToken] | list[ScriptToken]) -> bytes:
    out = bytearray()
    for t in tokens:
        out.append(t.opcode)
        if t.data is None:
            continue
        if t.truncated:
            # A truncated token stores the raw remainder (including any partial length field).
            out += t.data
            continue
        if t.opcode == OP_PUSHDATA1:
            out.append(len(t.data))
        elif t.opcode == OP_PUSHDATA2:
            out += len(t.data).to_bytes(2, "little")
        elif t.opcode == OP_PUSHDATA4:
            out += len(t.data).to_bytes(4, "little")
        out += t.data
    return bytes(out)


def parse_script_strict(script: bytes | memoryview) -> list[ScriptToken]:
    """Tokenize, raising ParseError if a push runs past the end."""
    tokens = list(iter_script(script))
    if tokens and tokens[-1].truncated:
        raise ParseError("push runs past the end of the script", tokens[-1].offset, "complete push data")
    return tokens


def push_data(data: bytes) -> bytes:
    """The minimal push of ``data`` (as Core's CScript << vector)."""
    n = len(data)
    if n < OP_PUSHDATA1:
        return bytes((n,)) + data
    if n <= 0xFF:
        return bytes((OP_PUSHDATA1, n)) + data
    if n <= 0xFFFF:
        return bytes((OP_PUSHDATA2,)) + n.to_bytes(2, "little") + data
    return bytes((OP_PUSHDATA4,)) + n.to_bytes(4, "little") + data


def is_push_only(script: bytes | memoryview) -> bool:
    """Core's IsPushOnly: only push opcodes (including OP_1NEGATE..OP_16, excluding OP_RESERVED)."""
    for t in iter_script(script):
        if t.truncated or t.opcode > OP_16:
            return False
    return True


def script_to_asm(script: bytes | memoryview) -> str:
    parts = []
    for t in iter_script(script):
        if t.truncated:
            parts.append("[error]")
        elif t.data is not None:
            parts.append(t.data.hex() if t.data else "0")
        else:
            parts.append(OPCODE_NAMES.get(t.opcode, f"0x{t.opcode:02x}").removeprefix("OP_") if t.opcode else "0")
    return " ".join(parts)


# ------------------------------------------------------------------------------ classification
OUTPUT_TYPES = (
    "p2pk",
    "p2pkh",
    "p2sh",
    "p2wpkh",
    "p2wsh",
    "p2tr",
    "p2a",
    "multisig",
    "op_return",
    "witness_unknown",
    "nonstandard",
)


def witness_program(script: bytes | memoryview) -> tuple[int, bytes] | None:
    """(version, program) if ``script`` is a BIP141 witness program, else None."""
    n = len(script)
    if n < 4 or n > 42:
        return None
    v = script[0]
    if v != OP_0 and not (OP_1 <= v <= OP_16):
        return None
    if script[1] + 2 != n:
        return None
    return (0 if v == OP_0 else v - 0x50), bytes(script[2:])


def _valid_pubkey_size(key: bytes) -> bool:
    # Core's CPubKey::ValidSize: the length must match what the prefix byte says.
    if not key:
        return False
    if key[0] in (2, 3):
        return len(key) == 33
    if key[0] in (4, 6, 7):
        return len(key) == 65
    return False


def _script_number(token: ScriptToken, low: int, high: int) -> int | None:
    """A small integer opcode, or a minimally pushed minimal number, within [low, high]
    (Core's GetScriptNumber in solver.cpp, which allows up to 20 keys in bare multisig)."""
    op = token.opcode
    if OP_1 <= op <= OP_16:
        value = op - 0x50
    elif token.data is not None and not token.truncated and 0 < op < OP_PUSHDATA1:
        data = token.data
        # Minimal push: a 1-byte value 1..16 would have used OP_n; minimal number: no redundant sign byte.
        if len(data) == 1 and 1 <= data[0] <= 16:
            return None
        if not data or len(data) > 4 or (data[-1] & 0x7F == 0 and (len(data) == 1 or not data[-2] & 0x80)):
            return None
        value = int.from_bytes(data, "little")
        if data[-1] & 0x80:
            value = -(value & ~(0x80 << (8 * (len(data) - 1))))
    else:
        return None
    return value if low <= value <= high else None


def classify_output(script: bytes | memoryview) -> str:
    """Output script type, following Core's Solver (standard.cpp) with the names in OUTPUT_TYPES."""
    n = len(script)
    if n == 25 and script[0] == OP_DUP and script[1] == OP_HASH160 and script[2] == 20 and script[23] == OP_EQUALVERIFY and script[24] == OP_CHECKSIG:
        return "p2pkh"
    if n == 23 and script[0] == OP_HASH160 and script[1] == 20 and script[22] == OP_EQUAL:
        return "p2sh"
    wp = witness_program(script)
    if wp is not None:
        version, program = wp
        if version == 0:
            if len(program) == 20:
                return "p2wpkh"
            if len(program) == 32:
                return "p2wsh"
            return "nonstandard"
        if version == 1 and len(program) == 32:
            return "p2tr"
        if version == 1 and program == b"\x4e\x73":
            return "p2a"
        return "witness_unknown"
    if n >= 1 and script[0] == OP_RETURN and is_push_only(script[1:]):
        return "op_return"
    if (n == 35 and script[0] == 33 or n == 67 and script[0] == 65) and script[-1] == OP_CHECKSIG:
        if _valid_pubkey_size(bytes(script[1:-1])):
            return "p2pk"
    if n >= 3 and script[-1] == OP_CHECKMULTISIG:
        tokens = list(iter_script(script))
        if len(tokens) >= 4 and not tokens[-1].truncated:
            m = _script_number(tokens[0], 1, 20)
            k = _script_number(tokens[-2], 1, 20)
            keys = tokens[1:-2]
            if (
                m is not None
                and k is not None
                and m <= k
                and len(keys) == k
                and all(t.data is not None and _valid_pubkey_size(t.data) for t in keys)
            ):
                return "multisig"
    return "nonstandard"


def output_payload(script: bytes | memoryview, kind: str | None = None) -> bytes | None:
    """The hash or key a standard output commits to (for address encoding); None when not applicable."""
    kind = kind or classify_output(script)
    if kind == "p2pkh":
        return bytes(script[3:23])
    if kind == "p2sh":
        return bytes(script[2:22])
    if kind in ("p2wpkh", "p2wsh", "p2tr", "p2a", "witness_unknown"):
        return bytes(script[2:])
    if kind == "p2pk":
        return bytes(script[1:-1])
    return None
