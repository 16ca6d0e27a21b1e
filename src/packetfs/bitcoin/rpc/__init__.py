"""JSON-RPC server (bitcoind-compatible) and `packetfs cli`."""

from .context import PeerInterface, RpcContext
from .errors import RPCError
from .methods import METHODS
from .server import RpcServer, ThreadedRpcServer

__all__ = ["METHODS", "PeerInterface", "RPCError", "RpcContext", "RpcServer", "ThreadedRpcServer"]
