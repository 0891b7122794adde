"""Weights of a melody MusicVAE as the start of a trio MusicVAE (``--init-from`` across codecs).

A trio model's melody and bass parts are melody codecs of their own: the same tokens, the same
one-hot inputs. So a trained melody model of the same sizes can start one, and the trio model
then reads z from its first step instead of learning to (which the 16-bar trio runs never did on
two cores: every window decoded alike)::

    $ python -m training.train lb-trio_16bar --data data/trio_16bar_nott -o runs/trio \\
          --init-from runs/mel_16bar/checkpoint.pt

What is taken from the melody model (``melody_into_trio``):

- the encoder, with its first layer reading the trio's melody inputs (the trio input is melody,
  bass, drums side by side); the weights from the bass and drums inputs start at zero, so at
  step 0 the encoder gives a trio window the code the melody model gives its melody;
- mu, sigma (and mu's batch norm), the conductor and its initial state;
- the bar decoder, twice: as the melody decoder and as the bass decoder (a bass line is a
  melody in another register; it starts out reading the conductor as the melody does).

The drums decoder keeps the trio model's fresh initial weights. The two models must have the
same sizes (z, encoder, conductor, decoder) and pitch range, and the trio model one bar decoder
per part (``model.split_decoders``)::

    >>> from training.transfer import melody_into_trio
    >>> taken = melody_into_trio(trio_model.state_dict(), melody_checkpoint["model"])
    >>> trio_model.load_state_dict(taken)
"""

from __future__ import annotations

import re

import torch

#: the first encoder layer's input weights (flat or hierarchical encoder, both directions)
FIRST_INPUT = re.compile(r"^encoder\.(levels\.0\.)?(fw|bw)\.0\.weight_ih_l0$")
#: the codec settings a melody model and a trio model's melody part must share
SHARED = ("min_pitch", "max_pitch", "steps_per_quarter")
#: trio part -> the melody model's decoder it starts from
FROM_MELODY = {0: 0, 1: 0}     # melody, bass


class TransferError(ValueError):
    """The two models cannot share weights; the message is one line."""


def can_transfer(source_codec: dict, target_codec: dict) -> bool:
    """Whether a model of ``source_codec`` can start one of ``target_codec`` (melody -> trio)."""
    return (source_codec.get("name") == "melody" and target_codec.get("name") == "trio"
            and all(source_codec.get(k) == target_codec.get(k) for k in SHARED))


def melody_into_trio(target: dict[str, torch.Tensor],
                     source: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A copy of the trio state dict ``target`` with the melody state dict ``source``'s weights
    where they fit (module docstring); raises :class:`TransferError` when the sizes differ."""
    if "decoders.1.lstm.weight_ih_l0" not in target or "decoders.1.lstm.weight_ih_l0" in source:
        raise TransferError("a melody model with one bar decoder can only start a trio model "
                            "with one bar decoder per part (model.split_decoders)")
    out = {}
    for key, here in target.items():
        match = re.match(r"^decoders\.(\d+)\.(.*)$", key)
        if match:
            part = int(match.group(1))
            if part not in FROM_MELODY:        # drums: the fresh weights
                out[key] = here.clone()
                continue
            name = f"decoders.{FROM_MELODY[part]}.{match.group(2)}"
        else:
            name = key
        there = source.get(name)
        if there is None:
            raise TransferError(f"the melody model has no {name} (another architecture)")
        if FIRST_INPUT.match(key) and there.shape[0] == here.shape[0] \
                and there.shape[1] <= here.shape[1]:
            weights = torch.zeros_like(here)        # melody inputs come first in the trio input
            weights[:, :there.shape[1]] = there
            out[key] = weights
        elif there.shape == here.shape:
            out[key] = there.clone()
        else:
            raise TransferError(f"{name}: {'x'.join(map(str, there.shape))} in the melody model, "
                                f"{'x'.join(map(str, here.shape))} here (other sizes)")
    return out
