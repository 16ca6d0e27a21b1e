"""Helpers for the tests that run real `packetfs` nodes in-process: an asyncio loop on its own thread
(the tests drive it from the main thread and call the nodes' RPC over HTTP), a polling wait, and an RPC
client for a node's NodeServices."""

import asyncio
import threading
import time

from bitcoinrpc.authproxy import AuthServiceProxy


class Loop:
    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout=60):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn, timeout=30):
        async def f():
            return fn()
        return self.run(f(), timeout)

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def wait_for(pred, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def rpc(svc):
    return AuthServiceProxy(f"http://u:p@127.0.0.1:{svc.rpc.port}", timeout=60)
