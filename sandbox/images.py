"""Small PNG pictures for the sandbox's CDN, drawn without an imaging library.

Profile pictures are square (a head-and-shoulders shape on a colour of their own); anything else is
a 480×360 "photo" (a sky, a hill and a sun). Both are big enough to be shown at their real size:
a 4-pixel image rendered as a dot in the conversation. Colours come from the name, so pictures differ
and the same name always gives the same picture.
"""

from __future__ import annotations

import functools
import math
import struct
import zlib

PROFILE_PREFIXES = ("avatar-", "user-", "page-", "ig-")
PROFILE_SIZE = 96
PHOTO_SIZE = (480, 360)

Colour = tuple[int, int, int]


def picture_png(name: str) -> bytes:
    """The PNG the CDN serves for this file name."""
    base = name.rsplit("/", 1)[-1]
    if base.startswith(PROFILE_PREFIXES):
        return _profile_png(base)
    return _photo_png(base)


def _colour(seed: str) -> Colour:
    """A calm, mid-light colour derived from the name (never near-white or near-black)."""
    raw = zlib.crc32(seed.encode()).to_bytes(4, "big")
    return (60 + raw[0] % 140, 60 + raw[1] % 140, 60 + raw[2] % 140)


def _mix(a: Colour, b: Colour, t: float) -> Colour:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


WHITE: Colour = (255, 255, 255)


@functools.lru_cache(maxsize=64)
def _profile_png(name: str) -> bytes:
    size = PROFILE_SIZE
    background = _colour(name)
    figure = _mix(background, WHITE, 0.55)
    bg, fg = bytes(background), bytes(figure)
    head_x, head_y, head_r2 = size / 2, size * 0.38, (size * 0.18) ** 2
    body_y, body_rx, body_ry = size * 1.02, size * 0.36, size * 0.34
    rows = []
    for y in range(size):
        row = bytearray(b"\x00")
        for x in range(size):
            in_head = (x - head_x) ** 2 + (y - head_y) ** 2 <= head_r2
            in_body = ((x - head_x) / body_rx) ** 2 + ((y - body_y) / body_ry) ** 2 <= 1
            row += fg if in_head or in_body else bg
        rows.append(bytes(row))
    return _encode(size, size, b"".join(rows))


@functools.lru_cache(maxsize=64)
def _photo_png(name: str) -> bytes:
    width, height = PHOTO_SIZE
    tone = _colour(name)
    sky_top, sky_bottom = _mix(tone, WHITE, 0.35), _mix(tone, WHITE, 0.85)
    hill_near, hill_far = _mix(tone, (0, 0, 0), 0.25), _mix(tone, (0, 0, 0), 0.05)
    sun = bytes(_mix((255, 214, 120), WHITE, 0.2))
    sun_x, sun_y, sun_r2 = width * 0.72, height * 0.3, (height * 0.11) ** 2
    # The hills' heights per column, computed once (two gentle curves).
    far = [height * (0.58 - 0.08 * _wave(x / width, 1.3)) for x in range(width)]
    near = [height * (0.74 - 0.07 * _wave(x / width + 0.4, 2.1)) for x in range(width)]
    near_px, far_px = bytes(hill_near), bytes(hill_far)
    rows = []
    for y in range(height):
        sky = bytes(_mix(sky_top, sky_bottom, y / height))
        row = bytearray(b"\x00")
        for x in range(width):
            if y >= near[x]:
                row += near_px
            elif y >= far[x]:
                row += far_px
            elif (x - sun_x) ** 2 + (y - sun_y) ** 2 <= sun_r2:
                row += sun
            else:
                row += sky
        rows.append(bytes(row))
    return _encode(width, height, b"".join(rows))


def _wave(position: float, frequency: float) -> float:
    return math.sin(position * frequency * 2 * math.pi)


def _encode(width: int, height: int, raw: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
