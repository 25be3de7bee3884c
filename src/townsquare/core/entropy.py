"""Random bytes on the hot path without a system call each time.

`os.urandom` releases the GIL around its `getrandom` call; in a busy multi-threaded worker the
thread then waits for the GIL again (up to the 5 ms switch interval), and a home page asked for
randomness a dozen times (click-token nonces, the request id, the visitor cookie, the CSP
nonce). Here each thread draws from its own 4 KiB block of `os.urandom` output, refilled when
used up: the same CSPRNG bytes, each handed out once, one system call per few hundred draws.
"""

from __future__ import annotations

import base64
import os
import threading

BLOCK = 4096
_local = threading.local()


def random_bytes(n: int) -> bytes:
    """`n` bytes from the operating system's CSPRNG (as `os.urandom(n)`)."""
    if n > BLOCK // 4:
        return os.urandom(n)
    block: bytes | None = getattr(_local, "block", None)
    at: int = getattr(_local, "at", BLOCK)
    if block is None or at + n > len(block) or _local.pid != os.getpid():  # a forked child
        block, at = os.urandom(BLOCK), 0  # draws afresh: it must not repeat its parent's bytes
        _local.block, _local.pid = block, os.getpid()
    _local.at = at + n
    return block[at:at + n]


def token_hex(nbytes: int) -> str:
    """As `secrets.token_hex`."""
    return random_bytes(nbytes).hex()


def token_urlsafe(nbytes: int) -> str:
    """As `secrets.token_urlsafe`."""
    return base64.urlsafe_b64encode(random_bytes(nbytes)).rstrip(b"=").decode("ascii")
