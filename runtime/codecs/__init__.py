"""One codec per representation (see docs/codecs.md); importing this package registers them all.

    >>> from runtime.codecs import codec_from_config
    >>> codec = codec_from_config({"name": "drums"})
    >>> codec.output_depth
    512

A new codec module (any ``runtime/codecs/<name>.py``, imported automatically) registers its class
with ``@register``; the engine, training and the bridge ask the codec for its rules
(:mod:`runtime.codecs.base`), so a new representation is that one file plus its tests.
"""

import importlib
import pkgutil

from .base import REGISTRY, Codec, CodecError, codec_from_config, register  # noqa: F401

# Every module of this package registers its codec on import (in file name order, as the
# registry lists them): nothing else to edit for a new one.
for _info in pkgutil.iter_modules(__path__):
    if _info.name != "base" and not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")
