"""What every codec provides: clip <-> token arrays, shared by training and runtime.

A codec turns a quantised :class:`~runtime.music.Clip` into the arrays a model reads and writes,
and back. Training builds datasets with it; the runtime decodes model output with the very same
object, rebuilt from the ``codec`` block of a bundle's ``model.json``::

    >>> from runtime.codecs import codec_from_config
    >>> codec = codec_from_config({"name": "melody", "min_pitch": 21, "max_pitch": 108})
    >>> tokens = codec.encode(clip)                # np.ndarray of class ids, one per step
    >>> x = codec.to_input(tokens)                 # float32 [steps, input_depth] for the encoder
    >>> clip_again = codec.decode(tokens)
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..music import Clip


class CodecError(ValueError):
    """A clip the codec cannot represent (wrong meter, too many notes...); one line for the user."""


class Codec:
    """Base class. Subclasses set ``name`` and implement encode/decode/to_input."""

    name: ClassVar[str] = ""
    #: size of one step of model input (one-hot width, roll width, ...)
    input_depth: int = 0
    #: number of classes (or multi-hot width) of one step of model output
    output_depth: int = 0

    def encode(self, clip: Clip) -> np.ndarray:
        raise NotImplementedError

    def decode(self, tokens: np.ndarray, **clip_fields) -> Clip:
        raise NotImplementedError

    def to_input(self, tokens: np.ndarray) -> np.ndarray:
        """Model input for a token array: float32 of shape ``tokens.shape[:1] + (input_depth,)``."""
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """JSON-ready parameters; ``codec_from_config(codec.config())`` rebuilds an equal codec."""
        raise NotImplementedError

    #: config keys that change only ``to_input``, never the tokens (the groove codec's input
    #: transform): one dataset serves every value of them
    input_options: ClassVar[tuple[str, ...]] = ()

    def token_config(self) -> dict[str, Any]:
        """``config()`` without the input-only options: equal when two codecs' tokens mean the same."""
        return {k: v for k, v in self.config().items() if k not in self.input_options}


REGISTRY: dict[str, type[Codec]] = {}


def register(cls: type[Codec]) -> type[Codec]:
    """Class decorator: make a codec constructible from its ``config()`` by name."""
    REGISTRY[cls.name] = cls
    return cls


def codec_from_config(config: dict[str, Any]) -> Codec:
    config = dict(config)
    name = config.pop("name", None)
    if name not in REGISTRY:
        raise CodecError(f"unknown codec {name!r} (known: {', '.join(sorted(REGISTRY))})")
    if hasattr(REGISTRY[name], "from_config"):
        return REGISTRY[name].from_config(config)
    return REGISTRY[name](**config)
