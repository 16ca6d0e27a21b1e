"""Script verification flags: Core's names and bit values (script/interpreter.h), parsed from the
comma-separated strings the test vectors and the public API use."""

from __future__ import annotations

from enum import IntFlag


class ScriptFlags(IntFlag):
    NONE = 0
    P2SH = 1 << 0
    STRICTENC = 1 << 1
    DERSIG = 1 << 2
    LOW_S = 1 << 3
    NULLDUMMY = 1 << 4
    SIGPUSHONLY = 1 << 5
    MINIMALDATA = 1 << 6
    DISCOURAGE_UPGRADABLE_NOPS = 1 << 7
    CLEANSTACK = 1 << 8
    CHECKLOCKTIMEVERIFY = 1 << 9
    CHECKSEQUENCEVERIFY = 1 << 10
    WITNESS = 1 << 11
    DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM = 1 << 12
    MINIMALIF = 1 << 13
    NULLFAIL = 1 << 14
    WITNESS_PUBKEYTYPE = 1 << 15
    CONST_SCRIPTCODE = 1 << 16
    TAPROOT = 1 << 17
    DISCOURAGE_UPGRADABLE_TAPROOT_VERSION = 1 << 18
    DISCOURAGE_OP_SUCCESS = 1 << 19
    DISCOURAGE_UPGRADABLE_PUBKEYTYPE = 1 << 20


# Every consensus rule that is enforced for all blocks since taproot (Core's MANDATORY set is
# P2SH|DERSIG|NULLDUMMY|CLTV|CSV|WITNESS|TAPROOT; these are what libbitcoinkernel calls "all").
CONSENSUS_FLAGS = (
    ScriptFlags.P2SH
    | ScriptFlags.DERSIG
    | ScriptFlags.NULLDUMMY
    | ScriptFlags.CHECKLOCKTIMEVERIFY
    | ScriptFlags.CHECKSEQUENCEVERIFY
    | ScriptFlags.WITNESS
    | ScriptFlags.TAPROOT
)


def parse_flags(text: str | int | ScriptFlags) -> ScriptFlags:
    """'P2SH,WITNESS' -> flags. An empty string or 'NONE' is no flags; unknown names raise ValueError."""
    if isinstance(text, int):
        return ScriptFlags(text)
    result = ScriptFlags.NONE
    for name in text.split(","):
        name = name.strip()
        if not name or name == "NONE":
            continue
        try:
            result |= ScriptFlags[name]
        except KeyError:
            raise ValueError(f"unknown script verification flag {name!r}") from None
    return result


def format_flags(flags: int) -> str:
    return ",".join(f.name for f in ScriptFlags if f and flags & f) or "NONE"
