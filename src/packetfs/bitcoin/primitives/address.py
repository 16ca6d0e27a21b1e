"""Addresses: base58check (P2PKH, P2SH) and bech32/bech32m (BIP173, BIP350) for every network."""

from __future__ import annotations

from dataclasses import dataclass

from .hashes import sha256d
from .script import OP_0, OP_CHECKSIG, OP_DUP, OP_EQUAL, OP_EQUALVERIFY, OP_HASH160, classify_output


class AddressError(ValueError):
    """A string that is not a valid address for the network asked for."""


@dataclass(frozen=True)
class AddressParams:
    name: str
    p2pkh_prefix: int
    p2sh_prefix: int
    hrp: str


NETWORKS: dict[str, AddressParams] = {
    "mainnet": AddressParams("mainnet", 0x00, 0x05, "bc"),
    "testnet3": AddressParams("testnet3", 0x6F, 0xC4, "tb"),
    "testnet4": AddressParams("testnet4", 0x6F, 0xC4, "tb"),
    "signet": AddressParams("signet", 0x6F, 0xC4, "tb"),
    "regtest": AddressParams("regtest", 0x6F, 0xC4, "bcrt"),
}

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}


def b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, r = divmod(n, 58)
        out.append(_B58[r])
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + "".join(reversed(out))


def b58decode(s: str) -> bytes:
    n = 0
    for c in s:
        if c not in _B58_INDEX:
            raise AddressError(f"invalid base58 character {c!r}")
        n = n * 58 + _B58_INDEX[c]
    pad = len(s) - len(s.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * pad + body


def b58check_encode(payload: bytes) -> str:
    return b58encode(payload + sha256d(payload)[:4])


def b58check_decode(s: str) -> bytes:
    if len(s) > 100:
        raise AddressError("base58 string too long")
    raw = b58decode(s)
    if len(raw) < 5 or sha256d(raw[:-4])[:4] != raw[-4:]:
        raise AddressError("bad base58 checksum")
    return raw[:-4]


# ------------------------------------------------------------------------------ bech32 (BIP173/350)
_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_CONST = 1
_BECH32M_CONST = 0x2BC830A3


def _polymod(values: list[int]) -> int:
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            if (top >> i) & 1:
                chk ^= gen[i]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def bech32_encode(hrp: str, data: list[int], bech32m: bool) -> str:
    const = _BECH32M_CONST if bech32m else _BECH32_CONST
    poly = _polymod(_hrp_expand(hrp) + data + [0] * 6) ^ const
    checksum = [(poly >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_CHARSET[d] for d in data + checksum)


def bech32_decode(s: str) -> tuple[str, list[int], bool]:
    """Return (hrp, data without checksum, is_bech32m)."""
    if len(s) > 90:
        raise AddressError("bech32 string longer than 90 characters")
    if any(ord(c) < 33 or ord(c) > 126 for c in s):
        raise AddressError("invalid character in bech32 string")
    if s.lower() != s and s.upper() != s:
        raise AddressError("mixed case in bech32 string")
    s = s.lower()
    pos = s.rfind("1")
    if pos < 1 or pos + 7 > len(s):
        raise AddressError("bech32 separator missing or misplaced")
    hrp = s[:pos]
    try:
        data = [_CHARSET.index(c) for c in s[pos + 1 :]]
    except ValueError:
        raise AddressError("invalid bech32 data character") from None
    check = _polymod(_hrp_expand(hrp) + data)
    if check == _BECH32_CONST:
        return hrp, data[:-6], False
    if check == _BECH32M_CONST:
        return hrp, data[:-6], True
    raise AddressError("bad bech32 checksum")


def _convert_bits(data: bytes | list[int], from_bits: int, to_bits: int, pad: bool) -> list[int]:
    acc = bits = 0
    out = []
    maxv = (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & maxv)
    elif bits >= from_bits or ((acc << (to_bits - bits)) & maxv):
        raise AddressError("invalid padding in bech32 data")
    return out


def encode_segwit_address(hrp: str, version: int, program: bytes) -> str:
    if not 0 <= version <= 16 or not 2 <= len(program) <= 40:
        raise AddressError("invalid witness version or program length")
    return bech32_encode(hrp, [version] + _convert_bits(program, 8, 5, True), bech32m=version != 0)


def decode_segwit_address(hrp: str, address: str) -> tuple[int, bytes]:
    got_hrp, data, is_m = bech32_decode(address)
    if got_hrp != hrp:
        raise AddressError(f"address is for hrp {got_hrp!r}, not {hrp!r}")
    if not data:
        raise AddressError("empty bech32 data")
    version = data[0]
    if version > 16:
        raise AddressError("witness version above 16")
    program = bytes(_convert_bits(data[1:], 5, 8, False))
    if not 2 <= len(program) <= 40:
        raise AddressError("witness program length out of range")
    if version == 0 and len(program) not in (20, 32):
        raise AddressError("v0 witness program must be 20 or 32 bytes")
    if (version == 0) == is_m:
        raise AddressError("wrong checksum variant (v0 uses bech32, v1+ bech32m)")
    return version, program


# ------------------------------------------------------------------------------ script <-> address
def script_to_address(script: bytes, network: str = "mainnet") -> str | None:
    """The address of an output script, or None for scripts that have no address form."""
    params = NETWORKS[network]
    kind = classify_output(script)
    if kind == "p2pkh":
        return b58check_encode(bytes((params.p2pkh_prefix,)) + script[3:23])
    if kind == "p2sh":
        return b58check_encode(bytes((params.p2sh_prefix,)) + script[2:22])
    if kind in ("p2wpkh", "p2wsh", "p2tr", "p2a", "witness_unknown"):
        version = 0 if script[0] == OP_0 else script[0] - 0x50
        return encode_segwit_address(params.hrp, version, script[2:])
    return None


def address_to_script(address: str, network: str = "mainnet") -> bytes:
    params = NETWORKS[network]
    lowered = address.lower()
    if lowered.startswith(params.hrp + "1"):
        version, program = decode_segwit_address(params.hrp, address)
        return bytes((0 if version == 0 else 0x50 + version, len(program))) + program
    payload = b58check_decode(address)
    if len(payload) != 21:
        raise AddressError("base58 address payload must be 21 bytes")
    if payload[0] == params.p2pkh_prefix:
        return bytes((OP_DUP, OP_HASH160, 20)) + payload[1:] + bytes((OP_EQUALVERIFY, OP_CHECKSIG))
    if payload[0] == params.p2sh_prefix:
        return bytes((OP_HASH160, 20)) + payload[1:] + bytes((OP_EQUAL,))
    raise AddressError(f"address version byte {payload[0]} is not valid on {network}")
