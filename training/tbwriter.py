"""A dependency-free TensorBoard scalar writer (TFRecord files of `Event` protos).

`torch.utils.tensorboard` needs the tensorboard package, whose protobuf stubs need protobuf >= 5,
while mediapipe pins protobuf 4.25.8; so scalars are written here directly in the event-file
format TensorBoard reads: records of [u64 length][masked crc32c][Event bytes][masked crc32c],
Event = {wall_time (1, double), step (2, int64), file_version (3) | summary (5)}, Summary.Value =
{tag (1), simple_value (2, float)}.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from pathlib import Path


def _crc32c_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), as TFRecord uses."""
    c = 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field_bytes(num: int, payload: bytes) -> bytes:
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def event_bytes(wall_time: float, step: int, tag: str | None = None, value: float = 0.0,
                file_version: str | None = None) -> bytes:
    """Serialise one Event proto (a scalar summary or the file-version header)."""
    msg = _varint(1 << 3 | 1) + struct.pack("<d", wall_time) + _varint(2 << 3 | 0) + _varint(step)
    if file_version is not None:
        msg += _field_bytes(3, file_version.encode())
    if tag is not None:
        val = _field_bytes(1, tag.encode()) + _varint(2 << 3 | 5) + struct.pack("<f", value)
        msg += _field_bytes(5, _field_bytes(1, val))
    return msg


def record(data: bytes) -> bytes:
    """Frame `data` as one TFRecord."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc(length)) + data + struct.pack("<I", masked_crc(data))


def read_records(path: str | Path) -> list[bytes]:
    """Payloads of a TFRecord file, checking both CRCs (for tests and tooling)."""
    raw = Path(path).read_bytes()
    out, i = [], 0
    while i < len(raw):
        (n,) = struct.unpack_from("<Q", raw, i)
        (lc,) = struct.unpack_from("<I", raw, i + 8)
        if lc != masked_crc(raw[i:i + 8]):
            raise ValueError(f"{path}: bad length CRC at byte {i}")
        data = raw[i + 12:i + 12 + n]
        (dc,) = struct.unpack_from("<I", raw, i + 12 + n)
        if dc != masked_crc(data):
            raise ValueError(f"{path}: bad data CRC at byte {i}")
        out.append(data)
        i += 16 + n
    return out


class ScalarWriter:
    """`add_scalar(tag, value, step)` into `log_dir/events.out.tfevents.*`, like SummaryWriter."""

    def __init__(self, log_dir: str | Path):
        d = Path(log_dir)
        d.mkdir(parents=True, exist_ok=True)
        now = time.time()
        self.path = d / f"events.out.tfevents.{int(now)}.{socket.gethostname()}.{os.getpid()}"
        self._f = open(self.path, "ab")  # noqa: SIM115 - closed in close()
        self._f.write(record(event_bytes(now, 0, file_version="brain.Event:2")))
        self._f.flush()

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self._f.write(record(event_bytes(time.time(), step, tag, float(value))))

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()
