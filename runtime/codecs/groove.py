"""GrooVAE's groove codec: per 16th step and drum class a hit, a velocity and a timing offset.

The representation of Magenta's ``GrooveConverter`` (music_vae/data.py; Gillick et al. 2019,
"Learning to Groove with Inverse Sequence Transformations"): a drum performance on a grid of 16th
notes where every step holds, for each of 9 drum classes, whether it was hit, how hard (velocity)
and how far the played hit sits from its grid step (offset). Tokens are int64 ``[T, 27]`` in
Magenta's order, hits | velocities | offsets::

    >>> from runtime.music import Clip, Note
    >>> from runtime.codecs.groove import GrooveCodec
    >>> codec = GrooveCodec()                          # steps_per_quarter=4, input "full"
    >>> clip = Clip([Note(36, 0.025, 0.25, velocity=101, is_drum=True),    # kick a bit late
    ...              Note(38, 0.99375, 1.25, velocity=64, is_drum=True)],   # snare a bit early
    ...             length=4.0, is_drum=True)
    >>> tokens = codec.encode(clip)                    # int64 [16, 27]
    >>> tokens[0, [0, 9, 18]].tolist()                 # kick: hit, velocity, offset
    [1, 101, -12]
    >>> tokens[4, [1, 10, 19]].tolist()                # snare on step 4, 3/120 step early
    [1, 64, 3]
    >>> [n.start for n in codec.decode(tokens).notes]  # back to the played times
    [0.025, 0.99375]

- hit: 0 or 1; velocity: the MIDI velocity 1..127 (0 where no hit); offset: ``(grid time -
  played time)`` in ``offset_units`` per step (120: one tick at 480 ticks per beat), in -59..60
  (a hit exactly half a step late would belong to the next step when read back, so the latest
  is one unit earlier). The sign is Magenta's: **positive = played ahead of the grid (early)**.
- A hit belongs to the nearest step (halves round up, as note_seq quantizes); two hits of one
  class on one step keep the loudest (Magenta: "only one note per instrument per step").
- Model tensors (:meth:`to_output`, :meth:`to_input`) are float32 ``[T, 27]``: hits, velocity /
  127 in [0, 1], offset in steps x 2 in [-1, 1] (Magenta's scaling for sigmoid / tanh outputs).
- Two drum tables, as Magenta's groovae configs: ``pitch_classes`` (Magenta's
  ``ROLAND_DRUM_PITCH_CLASSES``: the Groove MIDI Dataset's Roland TD-11 kit) encodes the training
  data; ``inference_pitch_classes`` (the General MIDI table of the ``drums`` codec) encodes a
  user's clip (``encode(clip, inference=True)``) and names the decoded hits (first pitch).

Input transforms (``input_transform``), what the encoder reads instead of the performance
(:meth:`to_input`; the tokens and the decoder's targets are always the whole performance):

- ``"full"``: the performance itself (Magenta's ``groovae_4bar``: a plain autoencoder);
- ``"humanize"``: the hits only, velocities and offsets zeroed (quantized, flat-velocity drums
  in; Magenta's ``humanize=True``): the model learns to play a quantized pattern with a groove;
- ``"tap"``: the loudest hit of each step moved to one channel (``tap_class``, the open hi-hat
  as in Magenta) with its timing, velocities zeroed (Magenta's ``tapify=True,
  fixed_velocities=True``): a rhythm tapped on anything in, a full drum groove out.
  :meth:`as_taps` turns any clip (any instrument, any pitch) into such a tap line.

``encode`` takes clips as played (not quantized) in 4/4; drum notes or not, every note counts.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from ..music import Clip, Note
from ..quantize import to_steps
from .base import Codec, CodecError, register
from .drums import DRUM_CLASS_PITCHES
from .melody import check_grid, clip_steps

#: Magenta's ROLAND_DRUM_PITCH_CLASSES (music_vae/data.py): the Groove MIDI Dataset's kit
ROLAND_DRUM_PITCH_CLASSES: list[list[int]] = [
    [36],                  # kick
    [38, 37, 40],          # snare (head, cross-stick, rim)
    [42, 22, 44],          # closed hi-hat (bow, edge, pedal)
    [46, 26],              # open hi-hat (bow, edge)
    [43, 58],              # low tom (tom 3 head, rim)
    [47, 45],              # mid tom (tom 2 rim, head)
    [50, 48],              # high tom (tom 1 rim, head)
    [49, 52, 55, 57],      # crash
    [51, 53, 59],          # ride (bow, bell, edge)
]
INPUT_TRANSFORMS = ("full", "humanize", "tap")
HIT, VELOCITY, OFFSET = 0, 1, 2


@register
class GrooveCodec(Codec):
    """Drum performance <-> int64 tokens [T, 3 * classes] (hits | velocities | offsets)."""

    name = "groove"
    prepare_kind = "groove"
    #: parameters that change only :meth:`to_input`, never the tokens: a dataset prepared once
    #: serves every input transform (training.train takes them from the config)
    input_options = ("input_transform",)

    def __init__(self, steps_per_quarter: int = 4, input_transform: str = "full",
                 offset_units: int = 120, tap_class: int = 3,
                 pitch_classes: list[list[int]] | None = None,
                 inference_pitch_classes: list[list[int]] | None = None):
        if input_transform not in INPUT_TRANSFORMS:
            raise CodecError(f"groove input_transform must be one of {', '.join(INPUT_TRANSFORMS)}, "
                             f"got {input_transform!r}")
        self.pitch_classes = _table(pitch_classes or ROLAND_DRUM_PITCH_CLASSES, "pitch_classes")
        self.inference_pitch_classes = _table(inference_pitch_classes or DRUM_CLASS_PITCHES,
                                              "inference_pitch_classes")
        if len(self.pitch_classes) != len(self.inference_pitch_classes):
            raise CodecError(f"training and inference drum tables differ in size "
                             f"({len(self.pitch_classes)} vs {len(self.inference_pitch_classes)})")
        self.num_classes = len(self.pitch_classes)
        if not 0 <= int(tap_class) < self.num_classes:
            raise CodecError(f"tap_class must be in 0..{self.num_classes - 1}, got {tap_class}")
        if int(offset_units) < 2 or int(offset_units) % 2:
            raise CodecError(f"offset_units must be an even number >= 2, got {offset_units}")
        self.steps_per_quarter = int(steps_per_quarter)
        self.input_transform = input_transform
        self.offset_units = int(offset_units)
        self.tap_class = int(tap_class)
        #: pitch -> class for the training data (``encode``) and for user clips / decoded hits
        self.data_class_of = _class_map(self.pitch_classes)
        self.class_of = _class_map(self.inference_pitch_classes)
        self.input_depth = self.output_depth = 3 * self.num_classes
        self.step_shape = (3 * self.num_classes,)

    @property
    def steps_per_bar(self) -> int:
        return 4 * self.steps_per_quarter

    # -- clip -> tokens ---------------------------------------------------------------------
    def encode(self, clip: Clip, inference: bool = False) -> np.ndarray:
        """Tokens [steps, 27] for every step of ``clip`` (its length rounded up to whole steps).

        ``inference=True`` reads the pitches with the General MIDI table (a user's clip), else
        with the training data's table (the Groove dataset's kit)."""
        # the meter check only: a groove's hits sit off the grid by design
        check_grid(clip.copy(notes=[]), self.steps_per_quarter, "the groove codec")
        return self.encode_notes(clip.notes, clip_steps(clip, self.steps_per_quarter), inference)

    def encode_notes(self, notes, steps: int, inference: bool = False) -> np.ndarray:
        """Tokens for drum hits (their onsets, velocities and played times) over ``steps`` steps."""
        class_of = self.class_of if inference else self.data_class_of
        spq, units, c = self.steps_per_quarter, self.offset_units, self.num_classes
        tokens = np.zeros((steps, 3 * c), dtype=np.int64)
        for n in notes:
            drum = class_of.get(n.pitch)
            step = to_steps(n.start, spq)
            if drum is None or not 0 <= step < steps or n.velocity <= 0:
                continue
            if tokens[step, drum] and tokens[step, c + drum] >= n.velocity:
                continue  # the loudest hit of a class on a step wins
            offset = int(round((step - n.start * spq) * units))
            tokens[step, drum] = 1
            tokens[step, c + drum] = min(int(n.velocity), 127)
            tokens[step, 2 * c + drum] = max(1 - units // 2, min(units // 2, offset))
        return tokens

    def fit(self, clip: Clip, beats: float, steps_per_quarter: int) -> Clip:
        """The clip read as 4/4 with its timing and velocities kept (a groove is played off the
        grid) and not cut (its tokens are): every note a drum hit, or for a ``tap`` model a tap
        (:meth:`as_taps`)."""
        clip = clip.copy(time_signature=(4, 4), tempo_changes=[], meter_changes=[])
        if self.input_transform == "tap":
            return self.as_taps(clip)
        return clip.copy(notes=[replace(n, is_drum=True) for n in clip.notes], is_drum=True)

    def as_taps(self, clip: Clip) -> Clip:
        """Every note of ``clip`` (any instrument, any pitch) as a drum hit of the tap class,
        timing and velocity kept: the input of a ``tap`` model (Drumify)."""
        pitch = self.inference_pitch_classes[self.tap_class][0]
        return clip.copy(notes=[replace(n, pitch=pitch, is_drum=True) for n in clip.notes],
                         is_drum=True)

    # -- tokens -> clip ---------------------------------------------------------------------
    def decode_notes(self, tokens, track: int = 0) -> list[Note]:
        tokens = self._check(tokens)
        spq, units, c = self.steps_per_quarter, self.offset_units, self.num_classes
        notes = []
        for step, drum in zip(*np.nonzero(tokens[:, :c])):
            velocity = int(np.clip(tokens[step, c + drum], 1, 127))
            start = max(0.0, float(step - tokens[step, 2 * c + drum] / units) / spq)
            notes.append(Note(self.inference_pitch_classes[drum][0], start, start + 1 / spq,
                              velocity=velocity, is_drum=True, track=track))
        return notes

    def decode(self, tokens: np.ndarray, **clip_fields) -> Clip:
        """A 4/4 drum clip as long as the tokens; hits one step long, at their played times (a
        hit ahead of the very first step starts at 0)."""
        fields = dict(length=len(tokens) / self.steps_per_quarter, time_signature=(4, 4),
                      is_drum=True)
        fields.update(clip_fields)
        return Clip(notes=self.decode_notes(tokens), **fields)

    def _check(self, tokens) -> np.ndarray:
        tokens = np.asarray(tokens)
        c = self.num_classes
        if tokens.ndim != 2 or tokens.shape[1] != 3 * c:
            raise CodecError(f"groove tokens must have shape [steps, {3 * c}], got {list(tokens.shape)}")
        if tokens.size and (tokens[:, :c].min() < 0 or tokens[:, :c].max() > 1
                            or tokens[:, c:2 * c].min() < 0 or tokens[:, c:2 * c].max() > 127
                            or tokens[:, 2 * c:].min() < 1 - self.offset_units // 2
                            or tokens[:, 2 * c:].max() > self.offset_units // 2):
            raise CodecError(f"groove tokens out of range (hits 0/1, velocities 0..127, offsets "
                             f"{1 - self.offset_units // 2}..{self.offset_units // 2})")
        return tokens

    # -- tokens <-> model tensors -----------------------------------------------------------
    def to_output(self, tokens: np.ndarray) -> np.ndarray:
        """The decoder's targets, float32 [..., 27]: hits, velocity / 127, offset x 2 / units."""
        tokens = np.asarray(tokens)
        return (tokens * self._scale()).astype(np.float32)

    def from_output(self, values: np.ndarray) -> np.ndarray:
        """Tokens for model outputs [..., 27] (hits already chosen as 0/1, velocities in [0, 1],
        offsets in [-1, 1]); velocity and offset are zero where there is no hit."""
        values = np.asarray(values, dtype=np.float64)
        c, half = self.num_classes, self.offset_units // 2
        hits = values[..., :c] > 0.5
        velocity = np.clip(np.rint(values[..., c:2 * c] * 127), 1, 127)
        offset = np.clip(np.rint(values[..., 2 * c:] * half), 1 - half, half)
        return np.concatenate([hits, velocity * hits, offset * hits], axis=-1).astype(np.int64)

    def to_input(self, tokens: np.ndarray) -> np.ndarray:
        """The encoder's input for tokens [..., T, 27] after the codec's input transform."""
        x = self.to_output(tokens)
        c = self.num_classes
        if self.input_transform == "tap":
            # Magenta's tapify: per step the loudest hit, on one channel, velocity flattened
            loudest = np.argmax(x[..., c:2 * c], axis=-1)[..., None]
            hit = np.take_along_axis(x[..., :c], loudest, -1)
            offset = np.take_along_axis(x[..., 2 * c:], loudest, -1)
            x = np.zeros_like(x)
            x[..., self.tap_class:self.tap_class + 1] = hit
            x[..., 2 * c + self.tap_class:2 * c + self.tap_class + 1] = offset
        elif self.input_transform == "humanize":
            x[..., c:] = 0.0
        return x

    def _scale(self) -> np.ndarray:
        c = self.num_classes
        return np.concatenate([np.ones(c), np.full(c, 1 / 127), np.full(c, 2 / self.offset_units)])

    # -- config -----------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        cfg = {"name": self.name, "steps_per_quarter": self.steps_per_quarter,
               "input_transform": self.input_transform, "offset_units": self.offset_units,
               "tap_class": self.tap_class}
        if self.pitch_classes != ROLAND_DRUM_PITCH_CLASSES:
            cfg["pitch_classes"] = self.pitch_classes
        if self.inference_pitch_classes != DRUM_CLASS_PITCHES:
            cfg["inference_pitch_classes"] = self.inference_pitch_classes
        return cfg

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "GrooveCodec":
        return cls(**{k: v for k, v in config.items() if k != "name"})

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other.config() == self.config()

    def __repr__(self) -> str:
        return f"GrooveCodec(input_transform={self.input_transform!r})"


def _table(classes, what: str) -> list[list[int]]:
    table = [list(map(int, c)) for c in classes]
    if not table or any(not c for c in table):
        raise CodecError(f"{what} must be non-empty lists of pitches")
    return table


def _class_map(table: list[list[int]]) -> dict[int, int]:
    return {p: i for i, pitches in enumerate(table) for p in pitches}
