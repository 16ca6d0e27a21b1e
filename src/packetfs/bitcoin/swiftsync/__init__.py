"""SwiftSync (Ruben Somsen, 2025): validate the chain up to a height in any order and in parallel.

A hints file says which outputs of each block are still unspent at height H (hints.py, Elias-Fano
lists per block as in the draft BIP). Every other output is added to a salted SHA-256 aggregate when
created and every input's spent coin (from undo data) subtracted when spent (aggregate.py); blocks
need no UTXO set, so they are validated independently (validate.py) on local processes or Ray
(executor.py). A zero aggregate at H proves the hinted outputs are exactly the UTXO set; anything
else falls back to ordinary validation (importer.py).

The spent coins come from a blocks directory's rev files (importer.py) or from peers (netsync.py, the
phase `packetfs node --swiftsync` runs before its ordinary sync, over getbspent/bspent, net/bspent.py);
serve.py answers getbspent from a node's undo data.
"""

from .aggregate import CoinHasher, new_salt
from .executor import LocalExecutor, RayExecutor, make_executor
from .hints import Hints, SwiftSyncError, build_hints
from .importer import SwiftSyncResult, swiftsync_import

__all__ = [
    "CoinHasher", "Hints", "LocalExecutor", "RayExecutor", "SwiftSyncError", "SwiftSyncResult", "build_hints",
    "make_executor", "new_salt", "swiftsync_import",
]  # fmt: skip
