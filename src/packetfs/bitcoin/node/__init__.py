"""The PacketFS node: peers, address book and bans, headers-first sync with a parallel download window,
serving, compact blocks, and the `packetfs node` daemon (asyncio)."""
