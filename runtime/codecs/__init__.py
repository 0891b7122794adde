"""One codec per representation (see docs/codecs.md); importing this package registers them all.

    >>> from runtime.codecs import codec_from_config
    >>> codec = codec_from_config({"name": "drums"})
    >>> codec.output_depth
    512
"""

from .base import REGISTRY, Codec, CodecError, codec_from_config, register  # noqa: F401
from . import drums, groove, melody, note_events, performance, pianoroll, pod, trio  # noqa: F401  (register)
