"""Free loopback ports for the servers tests start (Prefect, SeaweedFS)."""

from __future__ import annotations

import socket
from contextlib import ExitStack

HOST = "127.0.0.1"


def free_ports(n: int = 1) -> list[int]:
    """`n` distinct TCP ports on 127.0.0.1 that nothing listens on right now."""
    with ExitStack() as stack:
        socks = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(n)]
        for s in socks:  # all bound at once, so the kernel hands out n different ports
            s.bind((HOST, 0))
        return [s.getsockname()[1] for s in socks]
