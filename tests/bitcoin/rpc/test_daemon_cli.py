"""`packetfs node` serves JSON-RPC (cookie in its datadir) and `packetfs cli` drives it, as bitcoind
and bitcoin-cli; SIGTERM stops it cleanly (cookie removed, mempool.dat written)."""

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

PACKETFS = str(Path(sys.executable).parent / "packetfs")


def test_node_with_rpc_and_cli(tmp_path):
    datadir = tmp_path / "node"
    datadir.mkdir()
    out = open(tmp_path / "stderr.txt", "wb")
    proc = subprocess.Popen([PACKETFS, "node", "--network", "regtest", "--datadir", str(datadir), "--port", "0",
                             "--bind", "127.0.0.1", "--no-listen"],
                            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        port = None
        deadline = time.monotonic() + 60
        while port is None and time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "stderr.txt").read_text()
            log = datadir / "debug.log"
            m = re.search(r"RPC listening on [\d.]+:(\d+)", log.read_text() if log.exists() else "")
            port = int(m.group(1)) if m else None
            time.sleep(0.05)
        assert port, "the node did not start its RPC server"
        cookie = datadir / ".cookie"
        assert oct(cookie.stat().st_mode & 0o777) == "0o600"

        def cli(*args):
            r = subprocess.run([PACKETFS, "cli", "--datadir", str(datadir), "--rpcport", str(port), *args],
                               capture_output=True, text=True, timeout=120)
            return r.returncode, r.stdout, r.stderr

        code, stdout, _ = cli("getblockchaininfo")
        info = json.loads(stdout)
        assert code == 0 and info["chain"] == "regtest" and info["blocks"] == 0
        code, stdout, _ = cli("generatetoaddress", "3", "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080")
        assert code == 0 and len(json.loads(stdout)) == 3
        assert cli("getblockcount")[1].strip() == "3"
        code, _, stderr = cli("getblockhash", "9")
        assert code == 8 and "Block height out of range" in stderr
        assert cli("stop")[1].strip() == "PacketFS stopping"
        assert proc.wait(timeout=60) == 0
        assert not cookie.exists() and (datadir / "mempool.dat").exists()
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        out.close()
