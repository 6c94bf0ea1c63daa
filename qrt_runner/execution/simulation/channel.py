"""Pickled messages over a connected socket: how the simulator process and its parent talk.

Each message is an 8-byte little-endian length followed by a pickle. The socket is the one end
of a ``socket.socketpair()``; the other end is inherited by the simulator process as a file
descriptor, so no ``multiprocessing`` start method (spawn, fork, or a launcher's own such as
joblib's ``loky``) is involved.
"""

from __future__ import annotations

import pickle
import select
import socket
import struct
from typing import Any

_HEADER = struct.Struct("<Q")


class Channel:
    """One end of a two-way message channel.

    Args:
        sock: a connected stream socket.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    @classmethod
    def from_fd(cls, fd: int) -> Channel:
        """The channel on an inherited socket file descriptor."""
        return cls(socket.socket(fileno=fd))

    def send(self, message: Any) -> None:
        """Send one message (raises OSError when the other end is gone)."""
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        self._sock.sendall(_HEADER.pack(len(data)))
        self._sock.sendall(data)

    def recv(self) -> Any:
        """The next message; blocks. Raises EOFError when the other end closed."""
        (size,) = _HEADER.unpack(self._read(_HEADER.size))
        return pickle.loads(self._read(size))

    def poll(self, timeout: float | None) -> bool:
        """Whether a message (or the end of the stream) is ready within ``timeout`` seconds."""
        ready, _, _ = select.select([self._sock], [], [], timeout)
        return bool(ready)

    def close(self) -> None:
        self._sock.close()

    def _read(self, size: int) -> bytes:
        buffer = bytearray(size)
        view = memoryview(buffer)
        received = 0
        while received < size:
            count = self._sock.recv_into(view[received:])
            if count == 0:
                raise EOFError("the other end of the channel closed")
            received += count
        return bytes(buffer)
