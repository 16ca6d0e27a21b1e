"""Read a blocks directory that Bitcoin Core's own code (libbitcoinkernel via pbk) wrote.

Independent checks: the blocks must be the exact bytes we fed Core, their hashes must be the ones Core
reports, and our decoding of every undo record must equal libbitcoinkernel's own reading of it.
"""

from __future__ import annotations

import gc
import hashlib
from pathlib import Path

import pytest

from packetfs.bitcoin.storage import (
    compress_script,
    decode_block_undo,
    encode_block_undo,
    iter_blk_file,
    iter_blocks,
    iter_rev_file,
    open_blocks_dir,
    read_xor_key,
    verify_undo_checksum,
    write_blk_files,
    write_blocks_dir,
)
from packetfs.bitcoin.storage.xor import is_active


def _sha256d(b: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(b).digest()).digest()


def test_core_accepted_every_block(core_blocks_dir):
    chain = core_blocks_dir.chain
    assert core_blocks_dir.tip_height == len(chain.blocks)
    # Core's chain is exactly ours, block by block (hashes computed independently of packetfs)
    assert core_blocks_dir.hashes[1:] == [_sha256d(b[:80]) for b in chain.blocks]


def test_core_wrote_obfuscated_files(core_blocks_dir):
    d = open_blocks_dir(core_blocks_dir.blocks_dir)
    assert [p.name for p in d.blk_files] == ["blk00000.dat"]
    assert [p.name for p in d.rev_files] == ["rev00000.dat"]
    key = read_xor_key(core_blocks_dir.blocks_dir)
    assert key is not None and len(key) == 8
    # Core 28+ picks a random key for a new blocks dir: the files must really be obfuscated, or this
    # test would not exercise the XOR path.
    assert is_active(key) and d.obfuscated and d.xor_key == key
    raw_head = d.blk_files[0].read_bytes()[:4]
    assert raw_head != bytes.fromhex("fabfb5da")
    assert d.network == "regtest"


def test_every_block_read_back(core_blocks_dir):
    chain = core_blocks_dir.chain
    d = open_blocks_dir(core_blocks_dir.blocks_dir)
    blocks = list(d.iter_blocks())
    # Core stores genesis first, then the blocks in the order it received them.
    assert len(blocks) == len(chain.blocks) + 1
    assert blocks[1:] == chain.blocks
    assert [_sha256d(b[:80]) for b in blocks] == core_blocks_dir.hashes
    for parent, child in zip(blocks, blocks[1:], strict=False):
        assert child[4:36] == _sha256d(parent[:80])
    # the same through the generic entry points
    assert list(iter_blocks(core_blocks_dir.blocks_dir)) == blocks
    assert list(iter_blocks(core_blocks_dir.blocks_dir.parent)) == blocks  # the datadir
    assert list(iter_blocks(d.blk_files[0])) == blocks  # one blk file, xor.dat found beside it
    # Core preallocates 16 MiB: the reader must have skipped the zero tail, not failed on it
    assert d.blk_files[0].stat().st_size > sum(len(b) + 8 for b in blocks)


def test_every_undo_record(core_blocks_dir):
    chain = core_blocks_dir.chain
    d = open_blocks_dir(core_blocks_dir.blocks_dir)
    records = [r for _, r in d.iter_rev_records()]
    # one undo record per connected block after genesis, in connection order
    assert len(records) == len(chain.blocks)
    hashes = core_blocks_dir.hashes
    codes = set()
    for height, rec in enumerate(records, start=1):
        assert verify_undo_checksum(hashes[height - 1], rec.undo_raw, rec.checksum)
        assert not verify_undo_checksum(hashes[height], rec.undo_raw, rec.checksum)
        undo = decode_block_undo(rec.undo_raw)
        # what libbitcoinkernel itself read from this record
        assert [[tuple(c) for c in tx] for tx in undo] == core_blocks_dir.spent[height]
        # what our chain builder knows it spent
        expected = [[(c.height, c.coinbase, c.value, c.script) for c in tx] for tx in chain.spent[height - 1]]
        assert [[tuple(c) for c in tx] for tx in undo] == expected
        # and we write exactly what Core wrote
        assert encode_block_undo(undo) == rec.undo_raw
        for tx in undo:
            for c in tx:
                special = compress_script(c.script_pubkey)
                codes.add(special[0] if special is not None else "raw")
    # the chain was built to exercise every compressed-script form, including both parities of 04/05
    assert codes == {0, 1, 2, 3, 4, 5, "raw"}


def test_undo_paired_with_blocks(core_blocks_dir):
    d = open_blocks_dir(core_blocks_dir.blocks_dir)
    pairs = list(d.iter_blocks_with_undo())
    assert pairs[0][1] is None  # genesis has no undo data
    for height, (block, undo) in enumerate(pairs[1:], start=1):
        assert block == core_blocks_dir.chain.blocks[height - 1]
        assert undo is not None
        assert len(decode_block_undo(undo)) == len(core_blocks_dir.spent[height])


def test_single_file_readers_agree(core_blocks_dir):
    d = open_blocks_dir(core_blocks_dir.blocks_dir)
    recs = list(iter_blk_file(d.blk_files[0]))
    assert all(r.raw == b for r, b in zip(recs, d.iter_blocks(), strict=True))
    # offsets are where Core put them: each record right after the previous one
    pos = 0
    for r in recs:
        assert r.offset == pos
        pos = r.data_offset + len(r.raw)
    revs = list(iter_rev_file(d.rev_files[0], magic="regtest"))
    pos = 0
    for r in revs:
        assert r.offset == pos
        pos = r.data_offset + len(r.undo_raw) + 32


def test_genesis_is_core_s(core_blocks_dir, regtest_util):
    first = next(open_blocks_dir(core_blocks_dir.blocks_dir).iter_blocks())
    assert first == regtest_util.REGTEST_GENESIS
    assert _sha256d(first[:80]) == regtest_util.REGTEST_GENESIS_HASH == core_blocks_dir.hashes[0]


def _fresh_chainman(pbk, datadir: Path, wipe: bool = False):
    ctx = pbk.make_context(pbk.ChainType.REGTEST)
    opts = pbk.ChainstateManagerOptions(ctx, str(datadir), str(datadir / "blocks"))
    if wipe:
        assert opts.set_wipe_dbs(True, True) == 0
    return pbk.ChainstateManager(opts), opts, ctx


def test_core_imports_blk_files_we_wrote(tmp_path, regtest_chain, regtest_util):
    """Core's -loadblock path (LoadExternalBlockFile) reads our plain blk files, across file rollovers."""
    pbk = pytest.importorskip("pbk", reason="py-bitcoinkernel (dev extra) is Bitcoin Core's reader")
    blocks = [regtest_util.REGTEST_GENESIS, *regtest_chain.blocks]
    positions = write_blk_files(blocks, tmp_path / "ext", network="regtest", max_file_size=20_000)
    files = sorted((tmp_path / "ext").glob("blk*.dat"))
    assert len(files) == 3 and positions[-1].file == 2
    chainman, opts, ctx = _fresh_chainman(pbk, tmp_path / "datadir")
    assert chainman.import_blocks(files) == 0  # C status: 0 is success
    chain = chainman.get_active_chain()
    assert chain.height == len(regtest_chain.blocks)
    assert bytes(chain.block_tree_entries[chain.height].block_hash) == _sha256d(blocks[-1][:80])
    del chain, chainman, opts, ctx
    gc.collect()


def test_core_reindexes_obfuscated_dir_we_wrote(tmp_path, regtest_chain, regtest_util):
    """Core's reindex reads a blocks dir we wrote with an xor.dat key, and its rev files then match ours."""
    pbk = pytest.importorskip("pbk", reason="py-bitcoinkernel (dev extra) is Bitcoin Core's reader")
    blocks = [regtest_util.REGTEST_GENESIS, *regtest_chain.blocks]
    key = bytes.fromhex("0123456789abcdef")
    undos = [None] + [None] * len(regtest_chain.blocks)
    write_blocks_dir(list(zip(blocks, undos, strict=True)), tmp_path / "blocks", "regtest", 20_000, key)
    chainman, opts, ctx = _fresh_chainman(pbk, tmp_path, wipe=True)
    assert chainman.import_blocks([]) == 0  # with wiped indexes this is a full reindex of blocks/
    chain = chainman.get_active_chain()
    assert chain.height == len(regtest_chain.blocks)
    del chain, chainman, opts, ctx
    gc.collect()
    # Core kept our key and wrote undo data into rev files numbered like our blk files
    d = open_blocks_dir(tmp_path / "blocks")
    assert d.xor_key == key
    assert [p.name for p in d.rev_files] == ["rev00000.dat", "rev00001.dat", "rev00002.dat"]
    pairs = list(d.iter_blocks_with_undo())
    assert [b for b, _ in pairs] == blocks
    for height, (_, undo) in enumerate(pairs):
        if height == 0:
            assert undo is None
            continue
        coins = decode_block_undo(undo)
        want = [
            [(c.height, c.coinbase, c.value, c.script) for c in tx] for tx in regtest_chain.spent[height - 1]
        ]
        assert [[tuple(c) for c in tx] for tx in coins] == want
