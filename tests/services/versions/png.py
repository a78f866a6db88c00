"""A tiny PNG reader for screenshot checks: 8-bit RGB/RGBA, not interlaced.

Enough to ask "is anything drawn here, and in which colours" without an
imaging dependency.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    channels: int
    rows: list[bytes]  # unfiltered scanlines

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        i = x * self.channels
        row = self.rows[y]
        return row[i], row[i + 1], row[i + 2]

    def count_near(
        self,
        colour: tuple[int, int, int],
        *,
        tolerance: int = 24,
        region: tuple[int, int, int, int] | None = None,
    ) -> int:
        """Pixels within ``tolerance`` of ``colour`` (per channel), in (x0, y0, x1, y1)."""
        x0, y0, x1, y1 = region or (0, 0, self.width, self.height)
        r, g, b = colour
        found = 0
        for y in range(y0, y1):
            row = self.rows[y]
            for x in range(x0, x1):
                i = x * self.channels
                if (
                    abs(row[i] - r) <= tolerance
                    and abs(row[i + 1] - g) <= tolerance
                    and abs(row[i + 2] - b) <= tolerance
                ):
                    found += 1
        return found

    def distinct_colours(self, step: int = 4) -> int:
        seen = set()
        for y in range(0, self.height, step):
            row = self.rows[y]
            for x in range(0, self.width, step):
                i = x * self.channels
                seen.add((row[i], row[i + 1], row[i + 2]))
        return len(seen)


def read_png(data: bytes) -> Image:
    if not data.startswith(SIGNATURE):
        raise ValueError("not a PNG file")
    pos, idat, header = len(SIGNATURE), bytearray(), None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    if header is None:
        raise ValueError("PNG without IHDR")
    width, height, depth, colour_type, _, _, interlace = header
    channels = {2: 3, 6: 4}.get(colour_type)
    if depth != 8 or channels is None or interlace:
        raise ValueError(
            f"unsupported PNG: depth {depth}, colour type {colour_type}, interlace {interlace}"
        )
    raw = zlib.decompress(bytes(idat))
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        _unfilter(kind, line, previous, channels)
        rows.append(bytes(line))
        previous = line
    return Image(width, height, channels, rows)


def _unfilter(kind: int, line: bytearray, previous: bytearray, bpp: int) -> None:
    if kind == 0:
        return
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        up = previous[i]
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + up) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
        elif kind == 4:
            corner = previous[i - bpp] if i >= bpp else 0
            p = left + up - corner
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
            predictor = left if pa <= pb and pa <= pc else up if pb <= pc else corner
            line[i] = (line[i] + predictor) & 0xFF
        else:
            raise ValueError(f"bad PNG filter {kind}")
