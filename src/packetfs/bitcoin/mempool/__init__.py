"""The transaction memory pool with Bitcoin Core 30's relay policy."""

from .errors import MempoolReject, PackageReject, TxResult
from .orphans import OrphanPool
from .persist import MempoolFileError, dump_mempool, load_mempool
from .policy import FeeRate, PolicyOptions
from .pool import AcceptResult, ChainstateView, ChainView, Mempool, MempoolEntry, PackageResult
from .sync import MempoolChainSync

__all__ = [
    "AcceptResult", "ChainView", "ChainstateView", "FeeRate", "Mempool", "MempoolChainSync", "MempoolEntry",
    "MempoolFileError", "MempoolReject", "OrphanPool", "PackageReject", "PackageResult", "PolicyOptions",
    "TxResult", "dump_mempool", "load_mempool",
]  # fmt: skip
