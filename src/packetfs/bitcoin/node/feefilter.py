"""BIP133 feefilter, sending side: tell full-relay peers the lowest fee rate our mempool would take, as
Core's ``MaybeSendFeefilter`` does.

- The value is the mempool's current minimum fee, quantised by Core's ``FeeFilterRounder`` (buckets
  1.1x apart from half the incremental relay fee up to 10,000,000 sat/kvB; two times in three the
  bucket below is sent, so the exact mempool minimum is not revealed), and never below the minimum
  relay fee. While in initial block download the filter is ``MAX_MONEY`` (rounded): announcements
  would be thrown away.
- Sent right after the handshake, then again at random times (exponential, mean 10 min) if the value
  changed; a change by more than a quarter down or a third up brings the next send within 5 min.
- Not sent to outbound block-relay-only peers (they never announce transactions) nor to peers older
  than protocol 70013.

The receiving side (not announcing a transaction below a peer's filter) is ``Node.relay_transaction``.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable

from ..consensus.tx_rules import MAX_MONEY
from ..net.limits import FEEFILTER_VERSION
from ..net.ping import FeeFilter
from .peer import ConnectionType, Peer

MAX_FILTER_FEERATE = 10_000_000  # sat/kvB, the top bucket
FEE_FILTER_SPACING = 1.1
AVG_FEEFILTER_BROADCAST_INTERVAL = 600.0  # seconds
MAX_FEEFILTER_CHANGE_DELAY = 300.0


class FeeFilterRounder:
    """Quantise a fee rate (sat/kvB) to a bucket boundary, randomly the one at or the one below it."""

    def __init__(self, incremental_relay_fee: int, rng: random.Random | None = None):
        self.rng = rng or random.Random()
        lowest = max(1, incremental_relay_fee // 2)
        buckets = [0.0]
        b = float(lowest)
        while b <= MAX_FILTER_FEERATE:
            buckets.append(b)
            b *= FEE_FILTER_SPACING
        self.buckets = buckets

    def round(self, fee_rate: int) -> int:
        i = bisect.bisect_left(self.buckets, fee_rate)  # the first boundary >= fee_rate
        if i == len(self.buckets) or (i > 0 and self.rng.getrandbits(32) % 3 != 0):
            i -= 1
        return int(self.buckets[i])


class FeeFilterSender:
    """Per-peer feefilter schedule. ``current_min_fee()`` is the mempool's minimum fee (sat/kvB)."""

    def __init__(self, current_min_fee: Callable[[], int], *, min_relay_fee: int, incremental_relay_fee: int,
                 rng: random.Random | None = None):
        self.current_min_fee = current_min_fee
        self.min_relay_fee = min_relay_fee
        self.rng = rng or random.Random()
        self.rounder = FeeFilterRounder(incremental_relay_fee, self.rng)
        # Core compares against round(MAX_MONEY) computed once: the top bucket, which is deterministic
        # because MAX_MONEY lies above every boundary.
        self.max_filter = int(self.rounder.buckets[-1])

    @staticmethod
    def wants(peer: Peer) -> bool:
        v = peer.state.version
        return (v is not None and v.version >= FEEFILTER_VERSION
                and peer.conn_type is not ConnectionType.BLOCK_RELAY)

    def maybe_send(self, peer: Peer, now: float, initial_download: bool) -> None:
        if not self.wants(peer):
            return
        st = peer.state
        if initial_download:
            current = MAX_MONEY
        else:
            current = self.current_min_fee()
            if st.fee_filter_sent == self.max_filter:
                st.next_fee_filter = 0.0  # out of IBD: send the real filter now
        if now > st.next_fee_filter:
            value = max(self.rounder.round(current), self.min_relay_fee)
            if value != st.fee_filter_sent:
                peer.send(FeeFilter(value))
                st.fee_filter_sent = value
            st.next_fee_filter = now + self.rng.expovariate(1 / AVG_FEEFILTER_BROADCAST_INTERVAL)
        elif (now + MAX_FEEFILTER_CHANGE_DELAY < st.next_fee_filter
              and (current < 3 * st.fee_filter_sent // 4 or current > 4 * st.fee_filter_sent // 3)):
            st.next_fee_filter = now + self.rng.uniform(0, MAX_FEEFILTER_CHANGE_DELAY)
