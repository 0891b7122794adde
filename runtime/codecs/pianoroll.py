"""Piano roll: a 128-wide multi-hot vector per step, read with binary cross-entropy
(MuseBar, IDA 2022: "MuseBar: Alleviating Posterior Collapse in Recurrent VAEs Toward Music
Generation").

    >>> from runtime.codecs.pianoroll import PianorollCodec, load_mat
    >>> codec = PianorollCodec(steps_per_quarter=4)
    >>> roll = codec.encode(clip)              # uint8 [steps, 128], 1 where a pitch sounds
    >>> x = codec.to_input(roll)               # float32 [steps, 128]; also the BCE target
    >>> clip_again = codec.decode(roll)        # runs of held steps become notes
    >>> rolls = load_mat("JSB_Chorales.mat", "train")   # Boulanger-Lewandowski .mat -> [T, 128] rolls

Public API: :class:`PianorollCodec` and :func:`load_mat`.

The roll carries no onsets, as in MuseBar: a pitch held over several steps and the same pitch
struck again on the next step look alike, so ``decode`` merges every run of held steps into one
note (velocity ``velocity``). ``separate_repeats=True`` keeps restrikes apart at the cost of one
step: a note followed at once by the same pitch is shortened by a step, so the roll shows a gap
(a one-step note cannot be shortened and still merges). Model output may be probabilities;
``decode`` treats values >= ``threshold`` (0.5) as held.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ..music import Clip, Note
from ..quantize import to_steps
from .base import Codec, CodecError, register

PITCHES = 128
#: the Boulanger-Lewandowski rolls have 88 columns, piano keys A0 (MIDI 21) .. C8 (MIDI 108)
MAT_LOWEST_PITCH = 21
MAT_SPLITS = ("train", "valid", "test")


@register
class PianorollCodec(Codec):
    """Multi-hot over all 128 MIDI pitches at ``steps_per_quarter`` steps per beat."""

    name = "pianoroll"
    input_depth = PITCHES
    output_depth = PITCHES
    prepare_kind = "pianoroll"
    step_shape = (PITCHES,)

    def __init__(self, steps_per_quarter: int = 4, separate_repeats: bool = False,
                 velocity: int = 100, threshold: float = 0.5):
        if steps_per_quarter < 1:
            raise CodecError(f"steps_per_quarter must be at least 1, not {steps_per_quarter}")
        self.steps_per_quarter = int(steps_per_quarter)
        self.separate_repeats = bool(separate_repeats)
        self.velocity = int(velocity)
        self.threshold = float(threshold)

    @classmethod
    def for_dataset(cls, clips=(), min_pitch: int = 21, max_pitch: int = 108,
                    steps_per_quarter: int = 4) -> "PianorollCodec":
        return cls(steps_per_quarter=steps_per_quarter)

    def encode(self, clip: Clip) -> np.ndarray:
        """uint8 ``[steps, 128]``; steps cover ``clip.length`` (and every note)."""
        spq = self.steps_per_quarter
        spans = []
        for n in clip.notes:
            start = to_steps(n.start, spq)
            spans.append((start, max(start + 1, to_steps(n.end, spq)), n.pitch))
        spans.sort()
        steps = max([math.ceil(clip.length * spq - 1e-9)] + [end for _, end, _ in spans])
        roll = np.zeros((steps, PITCHES), dtype=np.uint8)
        last: dict[int, tuple[int, int]] = {}  # pitch -> (start, end) of its latest note
        for start, end, pitch in spans:
            if self.separate_repeats and pitch in last:
                prev_start, prev_end = last[pitch]
                if prev_end == start and prev_start < start - 1:
                    roll[start - 1, pitch] = 0
            roll[start:end, pitch] = 1
            if pitch not in last or end >= last[pitch][1]:
                last[pitch] = (start, end)
        return roll

    def decode(self, tokens: np.ndarray, **clip_fields) -> Clip:
        """Notes from runs of held steps; ``clip_fields`` (tempo, time_signature...) go to Clip."""
        held = self._check(tokens) >= self.threshold
        steps = held.shape[0]
        edges = np.diff(np.pad(held.astype(np.int8), ((1, 1), (0, 0))), axis=0)
        # Each run has one rising and one falling edge; both lists are ordered by pitch, then time.
        pitches, onsets = np.nonzero(edges.T == 1)
        _, offsets = np.nonzero(edges.T == -1)
        spq = float(self.steps_per_quarter)
        notes = [Note(p, on / spq, off / spq, velocity=self.velocity)
                 for p, on, off in zip(pitches.tolist(), onsets.tolist(), offsets.tolist())]
        clip_fields.setdefault("length", steps / spq)
        return Clip(notes=notes, **clip_fields)

    def to_input(self, tokens: np.ndarray) -> np.ndarray:
        return self._check(tokens).astype(np.float32)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "steps_per_quarter": self.steps_per_quarter,
                "separate_repeats": self.separate_repeats, "velocity": self.velocity,
                "threshold": self.threshold}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "PianorollCodec":
        return cls(**config)

    def _check(self, tokens) -> np.ndarray:
        tokens = np.asarray(tokens)
        if tokens.ndim != 2 or tokens.shape[1] != PITCHES:
            raise CodecError(f"pianoroll tokens must have shape [steps, 128], not {list(tokens.shape)}")
        return tokens


def load_mat(path, split: str = "train") -> list[np.ndarray]:
    """The rolls of one split of a Boulanger-Lewandowski ``.mat`` file, as uint8 ``[T, 128]``.

    The files hold ``traindata``/``validdata``/``testdata``: one 88-column roll per piece (MIDI 21
    at column 0). The step length is the dataset's own (the files do not record it). Needs scipy
    (the ``train`` extra). Raises :class:`CodecError` with a one-line reason for a bad file.
    """
    if split not in MAT_SPLITS:
        raise CodecError(f"split must be one of {', '.join(MAT_SPLITS)}, not {split!r}")
    path = Path(path)
    if not path.is_file():
        raise CodecError(f"{path}: no such file")
    try:
        import scipy.io
    except ImportError:  # pragma: no cover - scipy is in the train extra
        raise CodecError("reading .mat files needs scipy (pip install latentbridge[train])") from None
    try:
        data = scipy.io.loadmat(str(path))
    except Exception as exc:  # scipy raises ValueError, MatReadError, TypeError... on junk
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CodecError(f"{path}: not a readable .mat file ({reason})") from None
    key = f"{split}data"
    if key not in data:
        raise CodecError(f"{path}: no {key!r} in this .mat file "
                         f"(has: {', '.join(k for k in data if not k.startswith('__'))})")
    rolls = []
    for index, piece in enumerate(np.asarray(data[key], dtype=object).ravel()):
        piece = np.asarray(piece)
        if piece.ndim != 2 or piece.shape[1] + MAT_LOWEST_PITCH > PITCHES:
            raise CodecError(f"{path}: {key}[{index}] has shape {list(piece.shape)}, "
                             "expected [steps, 88]")
        roll = np.zeros((piece.shape[0], PITCHES), dtype=np.uint8)
        roll[:, MAT_LOWEST_PITCH:MAT_LOWEST_PITCH + piece.shape[1]] = piece != 0
        rolls.append(roll)
    return rolls
