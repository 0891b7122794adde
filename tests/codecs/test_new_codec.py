"""A new representation is one codec module plus its tests (docs/internals.md, *Extending*).

The codec below is written as a new ``runtime/codecs/<name>.py`` would be, and registered the
same way; nothing else is edited. ``python -m training.prepare --kind bass`` then builds its
datasets (windows, transposition, de-duplication), training reads and transposes them, and the
engine's rules (fit a clip, route notes to MIDI channels) come from the codec.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from runtime.codecs import REGISTRY, Codec, codec_from_config
from runtime.codecs.base import PitchedPart
from runtime.music import Clip, Note


class BassCodec(Codec):
    """The lowest pitch sounding on each 16th step: 0 = silence, 1 + pitch - 24 (C1..C4)."""

    name = "bass_line"
    prepare_kind = "bass"                    # python -m training.prepare --kind bass
    steps_per_quarter = 4
    one_hot_steps = True

    def __init__(self, low: int = 24, high: int = 60):
        self.low, self.high = low, high
        self.input_depth = self.output_depth = high - low + 2
        self.pitched_parts = (PitchedPart(None, self.output_depth, 1),)

    def encode(self, clip: Clip) -> np.ndarray:
        tokens = np.zeros(int(round(clip.length * 4)), np.int64)
        for n in sorted(clip.notes, key=lambda n: -n.pitch):   # the lowest written last
            if self.low <= n.pitch <= self.high and not n.is_drum:
                tokens[int(round(n.start * 4)):int(round(n.end * 4))] = 1 + n.pitch - self.low
        return tokens

    def decode(self, tokens: np.ndarray, **clip_fields) -> Clip:
        notes = [Note(int(t) - 1 + self.low, i / 4, (i + 1) / 4) for i, t in enumerate(tokens) if t]
        return Clip(notes, **{"length": len(tokens) / 4, **clip_fields})

    def to_input(self, tokens: np.ndarray) -> np.ndarray:
        return np.eye(self.output_depth, dtype=np.float32)[np.asarray(tokens)]

    def config(self) -> dict:
        return {"name": self.name, "low": self.low, "high": self.high}

    def fit(self, clip: Clip, beats: float, steps_per_quarter: int) -> Clip:
        clip = super().fit(clip, beats, steps_per_quarter)
        return clip.copy(notes=[n for n in clip.notes if not n.is_drum])

    def channel_of(self, note: Note, channel: int) -> int:
        return (channel + 2) % 16                # e.g. a bass synth two channels up


@pytest.fixture
def bass_codec(monkeypatch):
    """``@register`` as the module would do it, undone after the test."""
    monkeypatch.setitem(REGISTRY, BassCodec.name, BassCodec)
    return BassCodec()


def test_prepare_and_training_take_a_new_codec_by_its_kind(bass_codec, shared_data, tmp_path):
    from training.data import WindowDataset
    from training.prepare import kinds, prepare

    assert "bass" in kinds()
    files = [str(f) for f in sorted((shared_data / "nottingham" / "full").glob("*.mid"))[:3]]
    manifest = prepare(files, tmp_path / "plain", kind="bass", bars=2, valid=0.0, test=0.0,
                       progress=False)
    assert manifest["codec"] == bass_codec.config()
    assert manifest["window"] == {"bars": 2, "steps_per_bar": 16, "stride": 1,
                                  "stride_unit": "bars"}
    data = WindowDataset(tmp_path / "plain", "train", transpose=(-3, 3))
    assert isinstance(data.codec, BassCodec) and data.steps == 32 and len(data) > 10
    assert data.tokens.max() < bass_codec.output_depth and data.tokens.any(axis=1).all()
    # training batches transpose by the codec's rule: silence stays, pitches move together
    plain = data.batch(range(len(data)))["tokens"].numpy()
    shifted = data.batch(range(len(data)), rng=np.random.default_rng(1))["tokens"].numpy()
    assert np.array_equal(plain == 0, shifted == 0) and not np.array_equal(plain, shifted)
    assert all(len(np.unique((b - a)[a > 0])) == 1 for a, b in zip(plain, shifted))
    # prepare's augmentation: the train split holds the windows moved by -2..2 semitones too
    augmented = prepare(files, tmp_path / "moved", kind="bass", bars=2, transpose=(-2, 2),
                        valid=0.0, test=0.0, progress=False)
    assert augmented["augment"]["transpose"] == [-2, -1, 1, 2]
    moved = {w.tobytes() for w in WindowDataset(tmp_path / "moved", "train").tokens}
    up = [np.where(w > 0, w + 1, 0) for w in data.tokens if w.max() + 1 < bass_codec.output_depth]
    assert up and all(w.tobytes() in moved for w in up)


def test_engine_and_bridge_rules_come_from_the_codec(bass_codec):
    from bridge.worker import split_channels

    codec = codec_from_config(bass_codec.config())
    bass = Note(40, 0.1, 1.0)
    clip = Clip([bass, Note(36, 0, 2, is_drum=True)], length=8.0, time_signature=(3, 4))
    fitted = codec.fit(clip, 4.0, 4)                   # quantised, cut, 4/4, drums dropped
    assert fitted.notes == [replace(bass, start=0.0)] and fitted.length == 4.0
    assert fitted.time_signature == (4, 4)
    notes = [(n.pitch, n.start, n.end - n.start, n.velocity, n) for n in fitted.notes]
    assert [channel for channel, _ in split_channels(notes, 5, codec)] == [7]
