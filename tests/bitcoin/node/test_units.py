"""Offline parts of the node: the download window (Core's FindNextBlocksToDownload rules), the block
locator, the address book and ban list persistence, HOST:PORT parsing, and the demo."""

from __future__ import annotations

import time

import click
import pytest

from packetfs.bitcoin.chain.headers import HAVE_DATA, HeaderTree
from packetfs.bitcoin.consensus.params import get_params
from packetfs.bitcoin.net.addr import NET_TORV3, NetAddress
from packetfs.bitcoin.node.addrbook import AddressBook, BanList
from packetfs.bitcoin.node.cli import parse_hostport
from packetfs.bitcoin.node.download import BlockDownload
from packetfs.bitcoin.node.node import block_locator
from packetfs.bitcoin.primitives.block import BlockHeader


def _chain(tree: HeaderTree, n: int, start=None, salt: int = 0):
    prev = start or tree.genesis
    out = []
    for i in range(n):
        h = BlockHeader(0x20000000, prev.hash, bytes(32), prev.header.time + 1 + salt, 0x207FFFFF, i)
        e = tree.insert(h, prev)
        out.append(e)
        prev = e
    return out


@pytest.fixture
def tree():
    return HeaderTree(get_params("regtest"))


def test_next_blocks_in_order_capped_per_peer_and_skipping_requested(tree) -> None:
    chain = _chain(tree, 50)
    d = BlockDownload(per_peer=16, window=1024)
    first = d.next_blocks(1, tree.genesis, chain[-1]).blocks
    assert [e.height for e in first] == list(range(1, 17))
    for e in first:
        d.request(1, e.hash)
    assert d.next_blocks(1, tree.genesis, chain[-1]).blocks == []  # 16 in flight: full
    second = d.next_blocks(2, tree.genesis, chain[-1]).blocks
    assert [e.height for e in second] == list(range(17, 33))
    chain[40].status |= HAVE_DATA
    for e in second:
        d.request(2, e.hash)
    third = d.next_blocks(3, tree.genesis, chain[-1]).blocks
    assert 41 not in [e.height for e in third] and third[0].height == 33
    # A gone peer's blocks go back to the pool.
    assert set(d.peer_gone(1)) == {e.hash for e in first}
    assert [e.height for e in d.next_blocks(3, tree.genesis, chain[-1]).blocks][:3] == [1, 2, 3]


def test_window_limits_and_names_the_staller(tree) -> None:
    chain = _chain(tree, 40)
    d = BlockDownload(per_peer=16, window=8)
    got = d.next_blocks(1, tree.genesis, chain[-1]).blocks
    assert [e.height for e in got] == list(range(1, 9))  # nothing past fork + 8
    for e in got:
        d.request(1, e.hash)
    nxt = d.next_blocks(2, tree.genesis, chain[-1])
    assert nxt.blocks == [] and nxt.staller == 1
    assert d.next_blocks(1, tree.genesis, chain[-1]).staller is None  # not itself


def test_no_blocks_from_a_peer_with_less_work_or_a_failed_chain(tree) -> None:
    chain = _chain(tree, 10)
    d = BlockDownload()
    assert d.next_blocks(1, chain[-1], chain[5]).blocks == []
    fork = _chain(tree, 12, start=chain[2], salt=7)
    fork[3].status |= 16  # FAILED
    got = d.next_blocks(1, chain[-1], fork[2])  # less work than our tip
    assert got.blocks == []
    got = d.next_blocks(1, chain[-1], fork[-1])
    assert [e.height for e in got.blocks] == [4, 5, 6]  # stops at the failed block


def test_block_locator_is_dense_then_exponential(tree) -> None:
    chain = _chain(tree, 100)
    loc = block_locator(chain[-1])
    heights = [tree.get(h).height for h in loc]
    assert heights[:10] == list(range(100, 90, -1))
    assert heights[-1] == 0 and len(loc) < 20
    gaps = [a - b for a, b in zip(heights, heights[1:], strict=False)]
    assert gaps[9:-1] == [2, 4, 8, 16, 32]  # doubling, then the jump to genesis


def test_address_book_and_bans_persist(tmp_path) -> None:
    book = AddressBook(tmp_path / "peers.json")
    now = int(time.time())
    book.add([NetAddress.from_host("10.0.0.1", 8333, 9, now), NetAddress.from_host("::2", 18444, 1, now),
              NetAddress(NET_TORV3, bytes(32), 9050, 1, now), NetAddress.from_host("10.0.0.2", 0, 1, now)])
    assert len(book) == 2  # unreachable networks and port 0 are not kept
    book.save()
    again = AddressBook(tmp_path / "peers.json")
    assert {a.host for a in again.sample(10)} == {"10.0.0.1", "::2"}
    bans = BanList(tmp_path / "banlist.json")
    bans.discourage("10.0.0.1", "invalid block")
    bans.ban("10.0.0.3", seconds=-1)  # already expired
    reloaded = BanList(tmp_path / "banlist.json")
    assert reloaded.is_banned("10.0.0.1") and not reloaded.is_banned("10.0.0.3")
    assert reloaded.entries["10.0.0.1"].kind == "discouraged"
    assert again.select(set(), reloaded.is_banned).host == "::2"
    (tmp_path / "peers.json").write_text("{not json")
    assert len(AddressBook(tmp_path / "peers.json")) == 0  # a torn file is set aside, not fatal


def test_address_book_is_bounded(tmp_path) -> None:
    book = AddressBook(tmp_path / "p.json", max_entries=100)
    book.add([NetAddress.from_host(f"10.0.{i // 256}.{i % 256}", 8333, 1, 1_000_000 + i) for i in range(500)])
    assert len(book) == 100


def test_parse_hostport() -> None:
    assert parse_hostport("127.0.0.1:18444", 1) == ("127.0.0.1", 18444)
    assert parse_hostport("example.org", 8333) == ("example.org", 8333)
    assert parse_hostport("[::1]:5", 1) == ("::1", 5)
    for bad in ("127.0.0.1:x", ":5", "h:70000"):
        with pytest.raises(click.BadParameter):
            parse_hostport(bad, 1)


def test_demo_runs(tmp_path, capsys) -> None:
    from packetfs.bitcoin.node.demo import demo

    demo(tmp_path, blocks=120)
    out = capsys.readouterr().out
    assert "B reached A's tip" in out
