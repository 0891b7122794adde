"""See a clip: a piano-roll PNG, drawn with numpy alone (no plotting library needed).

    >>> from runtime.pianoroll import draw, write_png
    >>> image = draw(clip, title="mel_2bar sample seed 7")   # uint8 [height, width, 3]
    >>> write_png(image, "clip.png")                         # atomic, with the user's umask

Time runs left to right on the 16th-note grid, with bar lines (numbered above the roll) and beat
lines. Pitched notes lie on rows of semitones (black keys shaded, every C labelled ``C4`` = MIDI
60), coloured by the track they came from; drum notes lie on lanes named by the nine General MIDI
drum classes the drum models use (KICK, SNARE, CLOSED HIHAT, ...; pitches outside them on OTHER),
below the pitched rows when a clip has both. The stronger a note's velocity, the deeper its
colour; a darker left edge marks each onset, so repeated notes stay apart.
"""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import replace

import numpy as np

from .codecs.drums import DRUM_CLASS_NAMES, DRUM_CLASS_PITCHES
from .files import atomic_write
from .music import Clip

# 5x7 pixel glyphs, one row of five bits per line (a classic LCD font); lower case prints as upper.
_FONT_ROWS = """
A 01110 10001 10001 11111 10001 10001 10001
B 11110 10001 10001 11110 10001 10001 11110
C 01110 10001 10000 10000 10000 10001 01110
D 11100 10010 10001 10001 10001 10010 11100
E 11111 10000 10000 11110 10000 10000 11111
F 11111 10000 10000 11110 10000 10000 10000
G 01110 10001 10000 10111 10001 10001 01111
H 10001 10001 10001 11111 10001 10001 10001
I 01110 00100 00100 00100 00100 00100 01110
J 00111 00010 00010 00010 00010 10010 01100
K 10001 10010 10100 11000 10100 10010 10001
L 10000 10000 10000 10000 10000 10000 11111
M 10001 11011 10101 10101 10001 10001 10001
N 10001 10001 11001 10101 10011 10001 10001
O 01110 10001 10001 10001 10001 10001 01110
P 11110 10001 10001 11110 10000 10000 10000
Q 01110 10001 10001 10001 10101 10010 01101
R 11110 10001 10001 11110 10100 10010 10001
S 01111 10000 10000 01110 00001 00001 11110
T 11111 00100 00100 00100 00100 00100 00100
U 10001 10001 10001 10001 10001 10001 01110
V 10001 10001 10001 10001 10001 01010 00100
W 10001 10001 10001 10101 10101 10101 01010
X 10001 10001 01010 00100 01010 10001 10001
Y 10001 10001 10001 01010 00100 00100 00100
Z 11111 00001 00010 00100 01000 10000 11111
0 01110 10001 10011 10101 11001 10001 01110
1 00100 01100 00100 00100 00100 00100 01110
2 01110 10001 00001 00010 00100 01000 11111
3 11111 00010 00100 00010 00001 10001 01110
4 00010 00110 01010 10010 11111 00010 00010
5 11111 10000 11110 00001 00001 10001 01110
6 00110 01000 10000 11110 10001 10001 01110
7 11111 00001 00010 00100 01000 01000 01000
8 01110 10001 10001 01110 10001 10001 01110
9 01110 10001 10001 01111 00001 00010 01100
- 00000 00000 00000 11111 00000 00000 00000
_ 00000 00000 00000 00000 00000 00000 11111
. 00000 00000 00000 00000 00000 01100 01100
: 00000 01100 01100 00000 01100 01100 00000
/ 00000 00001 00010 00100 01000 10000 00000
# 01010 01010 11111 01010 11111 01010 01010
( 00010 00100 01000 01000 01000 00100 00010
) 01000 00100 00010 00010 00010 00100 01000
= 00000 00000 11111 00000 11111 00000 00000
, 00000 00000 00000 00000 01100 00100 01000
+ 00000 00100 00100 11111 00100 00100 00000
? 01110 10001 00001 00010 00100 00000 00100
"""
FONT = {line[0]: np.array([[bit == "1" for bit in row] for row in line[2:].split()], bool)
        for line in _FONT_ROWS.strip().splitlines()}
FONT[" "] = np.zeros((7, 5), bool)
CHAR_W, CHAR_H = 6, 7          # a glyph plus one column of space

_DRUM_CLASS = {pitch: i for i, pitches in enumerate(DRUM_CLASS_PITCHES) for pitch in pitches}
DRUM_LANES = [name.replace("_", " ").upper() for name in DRUM_CLASS_NAMES] + ["OTHER"]
_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
_BLACK = {1, 3, 6, 8, 10}
#: note colours by track (cycled); drums have their own
PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (23, 190, 207), (188, 189, 34)]
DRUM_COLOUR = (214, 39, 40)

ROW_H, LANE_H, MARGIN, TITLE_H, RULER_H = 8, 10, 4, 13, 10
MAX_ROLL_W = 1600


def note_name(pitch: int) -> str:
    """``60`` -> ``"C4"`` (the middle C of General MIDI)."""
    return f"{_NAMES[pitch % 12]}{pitch // 12 - 1}"


def text(image: np.ndarray, x: int, y: int, string: str, colour=(0, 0, 0)) -> None:
    """Write ``string`` with its top-left corner at (x, y), clipped at the image's edges."""
    height, width = image.shape[:2]
    for i, char in enumerate(string.upper()):
        glyph = FONT.get(char, FONT["?"])
        x0 = x + i * CHAR_W
        ys, xs = np.nonzero(glyph)
        ys, xs = ys + y, xs + x0
        inside = (ys >= 0) & (ys < height) & (xs >= 0) & (xs < width)
        image[ys[inside], xs[inside]] = colour


def draw(clip: Clip, title: str = "") -> np.ndarray:
    """The clip's piano roll as an RGB image, uint8 [height, width, 3]."""
    pitched = [n for n in clip.notes if not (n.is_drum or clip.is_drum)]
    drums = [n for n in clip.notes if n.is_drum or clip.is_drum]
    beats = max(clip.length, max((n.end for n in clip.notes), default=0.0), 1.0)
    steps = math.ceil(beats * 4 - 1e-9)
    step_w = max(2, min(16, MAX_ROLL_W // steps))

    if pitched:
        low, high = min(n.pitch for n in pitched) - 2, max(n.pitch for n in pitched) + 2
    else:
        low, high = 58, 62
    if high - low < 24 and (pitched or not drums):        # at least two octaves around the notes
        middle = (low + high) // 2
        low, high = middle - 12, middle + 12
    low, high = max(0, low), min(127, high)
    rows = list(range(high, low - 1, -1)) if (pitched or not drums) else []
    lanes = []
    if drums:
        used = {_DRUM_CLASS.get(n.pitch, len(DRUM_LANES) - 1) for n in drums}
        lanes = [i for i in range(len(DRUM_LANES)) if i < len(DRUM_LANES) - 1 or i in used]

    labels = [note_name(p) if p % 12 == 0 else "" for p in rows] + [DRUM_LANES[i] for i in lanes]
    gutter = MARGIN + CHAR_W * max([len(s) for s in labels] + [3]) + 4
    top = TITLE_H + RULER_H
    pitched_h = len(rows) * ROW_H
    gap = 3 if rows and lanes else 0
    height = top + pitched_h + gap + len(lanes) * LANE_H + MARGIN
    width = gutter + steps * step_w + MARGIN
    image = np.full((height, width, 3), 255, np.uint8)
    x0, x1 = gutter, gutter + steps * step_w

    # rows and lanes
    for r, pitch in enumerate(rows):
        y = top + r * ROW_H
        if pitch % 12 in _BLACK:
            image[y:y + ROW_H, x0:x1] = (234, 236, 242)
        if pitch % 12 == 0:
            image[y + ROW_H - 1, x0:x1] = (200, 200, 210)
            text(image, MARGIN, y, note_name(pitch), (60, 60, 60))
    lanes_top = top + pitched_h + gap
    for k, lane in enumerate(lanes):
        y = lanes_top + k * LANE_H
        if k % 2:
            image[y:y + LANE_H, x0:x1] = (240, 240, 240)
        text(image, MARGIN, y + 1, DRUM_LANES[lane], (60, 60, 60))
    if gap:
        image[lanes_top - gap:lanes_top, x0:x1] = (160, 160, 160)

    # grid: beats, then bars (numbered in the ruler)
    bottom = height - MARGIN
    for beat in range(int(math.floor(beats)) + 1):
        x = x0 + beat * 4 * step_w
        if x < x1:
            image[top:bottom, x] = (215, 215, 215)
    bar = clip.beats_per_bar if clip.beats_per_bar > 0 else 4.0
    number, at = 1, 0.0
    label_every = max(1, math.ceil((CHAR_W * 3) / (bar * 4 * step_w)))
    while at < beats - 1e-9:
        x = x0 + int(round(at * 4 * step_w))
        image[top - 3:bottom, x] = (110, 110, 110)
        if (number - 1) % label_every == 0:
            text(image, x + 2, TITLE_H + 1, str(number), (60, 60, 60))
        number, at = number + 1, at + bar
    image[top:bottom, x1 - 1] = (110, 110, 110)

    # notes
    def block(n, y, h, colour):
        strength = 0.3 + 0.7 * (n.velocity / 127.0)
        fill = tuple(int(255 - (255 - c) * strength) for c in colour)
        start = x0 + int(round(n.start * 4 * step_w))
        end = max(start + 2, x0 + int(round(n.end * 4 * step_w)))
        start, end = max(x0, start), min(x1, end)
        if end > start:
            image[y:y + h, start:end] = fill
            image[y:y + h, start] = tuple(int(c * 0.55) for c in colour)

    tracks = sorted({n.track for n in pitched})
    for n in pitched:
        if low <= n.pitch <= high:
            block(n, top + (high - n.pitch) * ROW_H + 1, ROW_H - 2,
                  PALETTE[tracks.index(n.track) % len(PALETTE)])
    for n in drums:
        lane = lanes.index(_DRUM_CLASS.get(n.pitch, len(DRUM_LANES) - 1))
        hit = n if n.end - n.start >= 0.2 else replace(n, end=n.start + 0.2)   # visible hits
        block(hit, lanes_top + lane * LANE_H + 1, LANE_H - 2, DRUM_COLOUR)

    if title:
        text(image, MARGIN, 3, title[: (width - 2 * MARGIN) // CHAR_W], (0, 0, 0))
    return image


def png_bytes(image: np.ndarray) -> bytes:
    """An RGB uint8 image [height, width, 3] as PNG file bytes (8-bit truecolour, no filter)."""
    image = np.ascontiguousarray(image, np.uint8)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB image [h, w, 3], got shape {image.shape}")
    height, width, _ = image.shape
    rows = np.concatenate([np.zeros((height, 1), np.uint8), image.reshape(height, -1)], axis=1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows.tobytes(), 9))
            + chunk(b"IEND", b""))


def write_png(image: np.ndarray, path) -> None:
    """Write an RGB image to ``path`` as PNG (temp file, then rename; the user's umask)."""
    atomic_write(path, png_bytes(image))


def save(clip: Clip, path, title: str = "") -> None:
    """Draw ``clip`` and write it to ``path``."""
    write_png(draw(clip, title), path)
