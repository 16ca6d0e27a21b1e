import pytest

from packetfs.bitcoin.mining.regtest import RegtestNode
from packetfs.bitcoin.rpc import RpcContext, ThreadedRpcServer


class Served:
    def __init__(self, node, server, datadir):
        self.node = node
        self.server = server
        self.datadir = datadir
        self.port = server.port
        user, password = (datadir / ".cookie").read_text().split(":", 1)
        self.user, self.password = user, password
        self.url = f"http://{user}:{password}@127.0.0.1:{self.port}"


@pytest.fixture
def served(tmp_path):
    """A 200-block regtest chainstate + mempool served over JSON-RPC on a free port (cookie auth)."""
    datadir = tmp_path / "node"
    node = RegtestNode(datadir)
    node.mine(200)
    ctx = RpcContext(node.chainstate, node.mempool, sync=node.sync, datadir=str(datadir))
    server = ThreadedRpcServer(ctx, port=0, cookie_dir=datadir).start()
    try:
        yield Served(node, server, datadir)
    finally:
        server.stop()
        node.close()
