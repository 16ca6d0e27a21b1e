"""Deterministic keys and signing for the regtest chain generator, all through coincurve (libsecp256k1).

No curve arithmetic here: ECDSA signing (RFC6979 nonces, low-S, optional low-R grinding the way Core's
wallet does it), BIP340 Schnorr signing and the BIP341 key tweak are libsecp256k1 calls. Schnorr keys keep
their ``secp256k1_keypair`` so that signing does not redo the public key derivation each time.
"""

from __future__ import annotations

import hashlib

import coincurve
from coincurve._libsecp256k1 import ffi, lib

from ..primitives.hashes import hash160, tagged_hash

_CTX = coincurve.GLOBAL_CONTEXT.ctx
_sha256 = hashlib.sha256


class KeyDerivation:
    """Secrets derived from a seed and a counter: sha256(tag || seed || counter)."""

    __slots__ = ("_prefix", "counter")

    def __init__(self, seed: bytes, tag: bytes = b"packetfs/gen-chain/key"):
        self._prefix = tag + b"\x00" + seed
        self.counter = 0

    def next_secret(self) -> bytes:
        while True:
            self.counter += 1
            secret = _sha256(self._prefix + self.counter.to_bytes(8, "little")).digest()
            # A digest of zero or at least the group order is not a key (probability ~2^-128); skip it.
            if lib.secp256k1_ec_seckey_verify(_CTX, secret):
                return secret


class EcdsaKey:
    """A key for ECDSA spends (P2PKH, P2WPKH, multisig): compressed public key and its hash160.

    Calls libsecp256k1 through coincurve's binding directly: coincurve.PrivateKey derives both an
    ECDSA and an x-only public key up front, twice the work a generator making one key per output needs.
    """

    __slots__ = ("_secret", "pubkey", "pubkey_hash")

    def __init__(self, secret: bytes):
        pub = ffi.new("secp256k1_pubkey *")
        if not lib.secp256k1_ec_pubkey_create(_CTX, pub, secret):
            raise ValueError("invalid secret key")
        out = ffi.new("unsigned char[33]")
        n = ffi.new("size_t *", 33)
        lib.secp256k1_ec_pubkey_serialize(_CTX, out, n, pub, lib.SECP256K1_EC_COMPRESSED)
        self._secret = secret
        self.pubkey = bytes(ffi.buffer(out, 33))
        self.pubkey_hash = hash160(self.pubkey)

    def _sign_der(self, digest: bytes, entropy) -> bytes:
        sig = ffi.new("secp256k1_ecdsa_signature *")
        if not lib.secp256k1_ecdsa_sign(
            _CTX, sig, digest, self._secret, lib.secp256k1_nonce_function_rfc6979, entropy
        ):
            raise ValueError("ecdsa signing failed")
        der = ffi.new("unsigned char[72]")
        n = ffi.new("size_t *", 72)
        lib.secp256k1_ecdsa_signature_serialize_der(_CTX, der, n, sig)
        return bytes(ffi.buffer(der, n[0]))

    def sign(self, digest: bytes, low_r: bool = False) -> bytes:
        """DER signature (without the sighash byte) of a 32-byte digest: RFC6979 nonce, low S.

        ``low_r``: grind the nonce with an extra-entropy counter until R fits 32 bytes (Core's wallet
        does this since 0.17, saving a byte per signature); still deterministic.
        """
        if len(digest) != 32:
            raise ValueError("ecdsa signing takes a 32-byte digest")
        der = self._sign_der(digest, ffi.NULL)
        if not low_r or der[3] == 0x20:
            return der
        counter = 0
        entropy = ffi.new("unsigned char[32]")
        while True:
            counter += 1
            entropy[0:4] = counter.to_bytes(4, "little")
            der = self._sign_der(digest, entropy)
            if der[3] <= 0x20:
                return der

    @property
    def private_key(self) -> coincurve.PrivateKey:
        return coincurve.PrivateKey(self._secret)


def _keypair(secret: bytes):
    kp = ffi.new("secp256k1_keypair *")
    if not lib.secp256k1_keypair_create(_CTX, kp, secret):
        raise ValueError("invalid secret key")
    return kp


def _xonly_of(kp) -> tuple[bytes, int]:
    xonly = ffi.new("secp256k1_xonly_pubkey *")
    parity = ffi.new("int *")
    lib.secp256k1_keypair_xonly_pub(_CTX, xonly, parity, kp)
    out = ffi.new("unsigned char[32]")
    lib.secp256k1_xonly_pubkey_serialize(_CTX, out, xonly)
    return bytes(ffi.buffer(out, 32)), parity[0]


class SchnorrKey:
    """A BIP340 key pair: x-only public key, and signing with caller-supplied aux randomness."""

    __slots__ = ("_kp", "xonly", "parity")

    def __init__(self, secret: bytes):
        self._kp = _keypair(secret)
        self.xonly, self.parity = _xonly_of(self._kp)

    def sign(self, digest: bytes, aux: bytes) -> bytes:
        if len(digest) != 32 or len(aux) != 32:
            raise ValueError("schnorr signing takes a 32-byte digest and 32 bytes of aux randomness")
        sig = ffi.new("unsigned char[64]")
        if not lib.secp256k1_schnorrsig_sign32(_CTX, sig, digest, self._kp, aux):
            raise ValueError("schnorr signing failed")
        return bytes(ffi.buffer(sig, 64))

    def tweaked(self, merkle_root: bytes = b"") -> TaprootOutputKey:
        """The BIP341 output key for this internal key and script tree root (b"" for key-path only)."""
        return TaprootOutputKey(self, merkle_root)


class TaprootOutputKey(SchnorrKey):
    """Q = P + H_TapTweak(P || root)·G, computed by libsecp256k1's keypair tweak; signs for the key path."""

    __slots__ = ("internal_xonly", "merkle_root")

    def __init__(self, internal: SchnorrKey, merkle_root: bytes):
        # Copy the internal key pair, then tweak the copy in place (libsecp256k1 negates the secret
        # first when P has an odd y, as BIP341 requires).
        kp = ffi.new("secp256k1_keypair *")
        ffi.memmove(kp, internal._kp, ffi.sizeof("secp256k1_keypair"))
        tweak = tagged_hash("TapTweak", internal.xonly + merkle_root)
        if not lib.secp256k1_keypair_xonly_tweak_add(_CTX, kp, tweak):
            raise ValueError("taproot tweak out of range")
        self._kp = kp
        self.xonly, self.parity = _xonly_of(kp)
        self.internal_xonly = internal.xonly
        self.merkle_root = merkle_root
