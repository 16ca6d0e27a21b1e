"""The one command -> message class table, used for every dispatch."""

from __future__ import annotations

from .addr import Addr, AddrV2, GetAddr
from .block import BlockMessage, TxMessage
from .bspent import BSPENT_MESSAGES
from .compact import BlockTxn, CmpctBlock, GetBlockTxn, SendCmpct
from .headers import GetBlocks, GetHeaders, Headers, SendHeaders
from .inv import GetData, Inv, NotFound
from .message import Message
from .pfs import PFS_MESSAGES
from .ping import FeeFilter, MempoolRequest, Ping, Pong
from .version import SendAddrV2, Verack, Version, WtxidRelay

MESSAGE_TYPES: dict[str, type[Message]] = {
    cls.command: cls
    for cls in (
        Version, Verack, WtxidRelay, SendAddrV2, Ping, Pong, FeeFilter, MempoolRequest,
        GetAddr, Addr, AddrV2, Inv, GetData, NotFound, GetHeaders, GetBlocks, Headers, SendHeaders,
        BlockMessage, TxMessage, SendCmpct, CmpctBlock, GetBlockTxn, BlockTxn, *PFS_MESSAGES, *BSPENT_MESSAGES,
    )
}
