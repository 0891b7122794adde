"""See it: runtime.pianoroll draws piano rolls (drum lanes named by drum class) into real PNG
files, read back here with Pillow (an independent decoder, installed with the train extra)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from runtime import pianoroll
from runtime.files import user_umask
from runtime.midi_io import read_midi, write_midi
from runtime.music import Clip, Note
from runtime.pianoroll import (CHAR_W, DRUM_COLOUR, LANE_H, MARGIN, PALETTE, ROW_H, RULER_H, TITLE_H,
                               draw, png_bytes, text, write_png)
from runtime.render import main

REPO = Path(__file__).resolve().parents[2]
Image = pytest.importorskip("PIL.Image", reason="Pillow comes with the train extra (matplotlib)")


def _read_png(path):
    with Image.open(path) as image:
        assert image.format == "PNG" and image.mode == "RGB"
        return np.asarray(image)


def test_png_files_decode_to_the_pixels_written(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    write_png(image, tmp_path / "noise.png")
    assert np.array_equal(_read_png(tmp_path / "noise.png"), image)
    assert (os.stat(tmp_path / "noise.png").st_mode & 0o777) == 0o666 & ~user_umask()
    with pytest.raises(ValueError, match="RGB"):
        png_bytes(np.zeros((2, 2), np.uint8))


def _gutter(labels: list[str]) -> int:
    return MARGIN + CHAR_W * max([len(s) for s in labels] + [3]) + 4


def test_notes_sit_on_their_pitch_and_time(tmp_path):
    """Two notes in a one-bar 4/4 clip: each at its pitch row and beats, the louder one deeper."""
    clip = Clip([Note(60, 0.0, 1.0, velocity=127), Note(64, 2.0, 3.0, velocity=40)], length=4.0)
    image = draw(clip)
    top_pitch = (58 + 66) // 2 + 12     # two octaves around the notes (58..66 with a margin of 2)
    step_w = min(16, pianoroll.MAX_ROLL_W // 16)
    gutter = _gutter(["C4", "C5"])
    top = TITLE_H + RULER_H
    assert image.shape == (top + 25 * ROW_H + MARGIN, gutter + 16 * step_w + MARGIN, 3)

    def pixel(pitch, beat):
        return tuple(image[top + (top_pitch - pitch) * ROW_H + ROW_H // 2, gutter + int(beat * 4 * step_w)])

    assert pixel(60, 0.5) == PALETTE[0]                      # velocity 127: the full colour
    soft = np.array(pixel(64, 2.5))
    assert (soft > np.array(PALETTE[0])).all() and (soft < 255).all()    # velocity 40: paler
    assert pixel(60, 2.5) in ((255, 255, 255), (234, 236, 242))          # nothing there
    assert pixel(64, 0.5) in ((255, 255, 255), (234, 236, 242))
    # the C4 row is labelled in the gutter
    label = np.full((ROW_H, CHAR_W * 2, 3), 255, np.uint8)
    text(label, 0, 0, "C4", (60, 60, 60))
    row = top + (top_pitch - 60) * ROW_H
    assert np.array_equal(image[row:row + 7, MARGIN:MARGIN + CHAR_W * 2], label[:7])


def test_drum_lanes_are_named_by_drum_class(tmp_path):
    """A drum clip: nine lanes, KICK first, each hit on its class's lane (any pitch of the class)."""
    clip = Clip([Note(36, 0.0, 0.25, velocity=127, is_drum=True),      # kick
                 Note(40, 1.0, 1.25, velocity=127, is_drum=True),      # electric snare: snare lane
                 Note(51, 2.0, 2.25, velocity=127, is_drum=True)],     # ride
                length=4.0, is_drum=True)
    image = draw(clip, title="drums")
    top = TITLE_H + RULER_H
    gutter = _gutter(pianoroll.DRUM_LANES[:9])
    assert image.shape[0] == top + 9 * LANE_H + MARGIN                 # no OTHER lane needed
    step_w = min(16, pianoroll.MAX_ROLL_W // 16)

    def lane_pixel(lane, beat):
        return tuple(image[top + lane * LANE_H + LANE_H // 2, gutter + int(beat * 4 * step_w) + 2])

    assert lane_pixel(0, 0.0) == DRUM_COLOUR and lane_pixel(1, 1.0) == DRUM_COLOUR
    assert lane_pixel(8, 2.0) == DRUM_COLOUR
    assert lane_pixel(0, 1.0) != DRUM_COLOUR and lane_pixel(2, 0.0) != DRUM_COLOUR
    for lane, name in enumerate(["KICK", "SNARE", "CLOSED HIHAT", "OPEN HIHAT", "LOW TOM",
                                 "MID TOM", "HIGH TOM", "CRASH", "RIDE"]):
        label = np.full((7, CHAR_W * len(name), 3), 255, np.uint8)
        text(label, 0, 0, name, (60, 60, 60))
        y = top + lane * LANE_H + 1
        assert np.array_equal(image[y:y + 7, MARGIN:MARGIN + CHAR_W * len(name)], label), name
    # a pitch outside the nine classes gets an OTHER lane
    odd = draw(Clip([Note(90, 0.0, 0.25, is_drum=True)], length=4.0, is_drum=True))
    assert odd.shape[0] == top + 10 * LANE_H + MARGIN


def test_render_png_beside_each_mid(tmp_path, capsys):
    out = tmp_path / "beats"
    assert main(["sample", "--model", "drums_2bar", "-n", "2", "--seed", "5", "--png", "-o", str(out)]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(out / f"drums_2bar_sample_0{i}.{ext}") for i in (1, 2) for ext in ("mid", "png")]
    for i in (1, 2):
        pixels = _read_png(out / f"drums_2bar_sample_0{i}.png")
        clip = read_midi(out / f"drums_2bar_sample_0{i}.mid")
        assert pixels.shape == draw(clip).shape
        r, g, b = (pixels[..., k].astype(int) for k in range(3))
        red = ((r > g + 60) & (r > b + 60)).sum()
        assert red > 5 * len(clip.notes) > 0                             # every hit drawn


def test_show_png_for_any_file(shared_data, tmp_path):
    """``show FILE --png``: only the PNG, beside the file, no synthesizer needed."""
    song = tmp_path / "jig.mid"
    write_midi(read_midi(shared_data / "nottingham" / "melody" / "jigs10.mid"), song)
    proc = subprocess.run([sys.executable, "-m", "runtime.render", "show", str(song), "--png"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={"PYTHONPATH": str(REPO), "PATH": "/nonexistent"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(tmp_path / "jig.png")]
    pixels = _read_png(tmp_path / "jig.png")
    assert pixels.shape == draw(read_midi(song)).shape
    r, g, b = (pixels[..., k].astype(int) for k in range(3))
    assert ((b > r + 40) & (b > g + 10)).sum() > 100                     # the tune's notes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jig.mid", "jig.png"]
