"""The MusicVAE checkpoints Magenta.js publishes, by name, and which of them latentbridge imports.

The list is Magenta.js' own index (magenta-js music/checkpoints/checkpoints.json, the MusicVAE
entries), with the published size and URL of each; ``importable`` says whether
``training.import_magenta`` turns it into a bundle, and ``reason`` why not::

    >>> from training.magenta_catalog import CATALOG, find, checkpoint_url
    >>> entry = find("mel_2bar_small")
    >>> entry.size_mb, entry.importable
    (17.7, True)
    >>> find("trio_4bar").name                  # the URL's folder name works too
    'trio_4bar_lokl_small_q1'
    >>> find("multitrack").importable, find("multitrack").converter
    (False, 'MultitrackConverter')
    >>> checkpoint_url(entry, mirror="http://127.0.0.1:8000/ckpt")
    'http://127.0.0.1:8000/ckpt/music_vae/mel_2bar_small'

Nothing here touches the network: downloads are training/download.py's, on request only.
``arch`` is the architecture whose weights have exactly the published size (worked out from the
sizes and Magenta's music_vae configs; ``None`` where the size does not pin it down): the tests
write random checkpoints of that shape to check the whole path at the published sizes. For the
GrooVAE entries no architecture gives the published figure to the byte (``size_pinned`` False):
their ``arch`` is Magenta's groovae configs' (16.3 MB of weights; tap2drum's 15.6 is that in
MiB), which the download's 10 % size check accepts.

:data:`PYTHON_ONLY` lists Magenta's Python (TensorFlow) checkpoints that Magenta.js does not
publish, and whether a Magenta.js conversion of each would import.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

#: where Magenta.js' checkpoints live; a mirror (``--mirror`` or ``LB_MAGENTA_MIRROR``) replaces it
PUBLISHED_BASE = "https://storage.googleapis.com/magentadata/js/checkpoints"
MIRROR_ENV = "LB_MAGENTA_MIRROR"

NADE = ("its NADE output layer (9 multi-label drum hits sampled one class at a time) has no "
        "graph in latentbridge's runtime")
CHORDS = "chord-conditioned (chordEncoder): latentbridge has no chord input"
MULTITRACK = ("MultitrackConverter: multi-instrument event tracks have no latentbridge codec")
GROOVE = ("GrooVAE models (groovae_*, tap2drum_*) are imported with Magenta's decoding: every "
          "drum's velocity and offset fed back, hit or not (docs/magenta.md)")
TRIO_XL = "1.71 GB download; not tried at that size (the export holds the weights several times)"


@dataclass(frozen=True)
class Entry:
    """One published checkpoint: ``name`` (Magenta.js' id), the folder under PUBLISHED_BASE."""

    name: str
    folder: str
    size_mb: float
    what: str
    converter: str
    importable: bool
    reason: str = ""
    arch: dict[str, Any] | None = None
    note: str = ""
    #: whether ``arch``'s weights have exactly the published size (see the module docstring)
    size_pinned: bool = True

    @property
    def alias(self) -> str:
        """The URL's last folder name, where it differs from the id (trio_4bar, trio_16bar)."""
        return self.folder.rsplit("/", 1)[-1]


def _small(kind: str, bars: int, quantize: str | None = None) -> dict[str, Any]:
    """Magenta's *_small recipe: 512-unit encoder (one per level), 2x256 decoder, z 256 (also
    its groovae configs'; ``kind`` groove_humanize / groove_tap / groove: the converter's input)."""
    return {"kind": kind, "bars": bars, "enc": 512, "dec": [256, 256], "z": 256,
            "quantize": quantize}


CATALOG: tuple[Entry, ...] = (
    Entry("mel_2bar_small", "music_vae/mel_2bar_small", 17.7,
          "2-bar melody, 90 classes (small)", "MelodyConverter", True,
          arch=_small("melody", 2)),
    Entry("mel_4bar_small_q2", "music_vae/mel_4bar_small_q2", 26.5,
          "4-bar melody, 90 classes (small, 2-byte weights)", "MelodyConverter", True),
    Entry("mel_4bar_med_q2", "music_vae/mel_4bar_med_q2", 65.4,
          "4-bar melody, 90 classes (medium, 2-byte weights)", "MelodyConverter", True),
    Entry("mel_4bar_med_lokl_q2", "music_vae/mel_4bar_med_lokl_q2", 65.4,
          "4-bar melody (medium, strong prior: better samples, 2-byte weights)",
          "MelodyConverter", True),
    Entry("mel_16bar_small_q2", "music_vae/mel_16bar_small_q2", 23.5,
          "16-bar melody with a conductor per bar (small, 2-byte weights)", "MelodyConverter",
          True, arch=_small("hier_melody", 16, "uint16")),
    Entry("mel_chords", "music_vae/mel_chords", 17.6,
          "2-bar melody conditioned on chords (2-byte weights)", "MelodyConverter", False,
          CHORDS),
    Entry("drums_2bar_lokl_small", "music_vae/drums_2bar_lokl_small", 18.5,
          "2-bar drums, 9 classes, strong prior: better samples (small)", "DrumsConverter",
          True, arch=_small("drums", 2)),
    Entry("drums_2bar_hikl_small", "music_vae/drums_2bar_hikl_small", 18.5,
          "2-bar drums, 9 classes, weak prior: better reconstructions and interpolations "
          "(small)", "DrumsConverter", True, arch=_small("drums", 2)),
    Entry("drums_2bar_nade_9_q2", "music_vae/drums_2bar_nade_9_q2", 27.6,
          "2-bar drums, 9 classes, NADE decoder (2-byte weights)", "DrumRollConverter", False,
          NADE),
    Entry("drums_4bar_med_q2", "music_vae/drums_4bar_med_q2", 68.2,
          "drums, 9 classes, weak prior (medium, 2-byte weights)", "DrumsConverter", True),
    Entry("drums_4bar_med_lokl_q2", "music_vae/drums_4bar_med_lokl_q2", 68.2,
          "drums, 9 classes, strong prior (medium, 2-byte weights)", "DrumsConverter", True),
    Entry("trio_4bar_lokl_small_q1", "music_vae/trio_4bar", 17.6,
          "4-bar trio: melody, bass and drums, conductor per bar (small, 1-byte weights)",
          "TrioConverter", True, arch=_small("hier_trio", 4, "uint8")),
    Entry("trio_16bar_xl", "music_vae/trio_16bar", 1710.0,
          "16-bar trio: melody, bass and drums (very large)", "TrioConverter", True,
          note=TRIO_XL),
    Entry("multitrack", "music_vae/multitrack", 26.4,
          "1-bar multi-instrument (1-byte weights)", "MultitrackConverter", False, MULTITRACK),
    Entry("multitrack_med", "music_vae/multitrack_med", 95.9,
          "1-bar multi-instrument (medium, 1-byte weights)", "MultitrackConverter", False,
          MULTITRACK),
    Entry("multitrack_med_fb256", "music_vae/multitrack_med_fb256", 95.9,
          "1-bar multi-instrument (medium, 256 free bits, 1-byte weights)",
          "MultitrackConverter", False, MULTITRACK),
    Entry("multitrack_chords", "music_vae/multitrack_chords", 26.9,
          "1-bar multi-instrument conditioned on chords (1-byte weights)",
          "MultitrackConverter", False, MULTITRACK),
    Entry("multitrack_med_chords", "music_vae/multitrack_med_chords", 96.9,
          "1-bar multi-instrument conditioned on chords (medium, 1-byte weights)",
          "MultitrackConverter", False, MULTITRACK),
    Entry("multitrack_med_chords_fb256", "music_vae/multitrack_med_chords_fb256", 96.9,
          "1-bar multi-instrument on chords (medium, 256 free bits, 1-byte weights)",
          "MultitrackConverter", False, MULTITRACK),
    Entry("groovae_2bar_humanize", "music_vae/groovae_2bar_humanize", 15.8,
          "GrooVAE, 2 bars: a quantized flat-velocity beat in, a played groove out (Groove)",
          "GrooveConverter", True, arch=_small("groove_humanize", 2),
          size_pinned=False),
    Entry("groovae_4bar", "music_vae/groovae_4bar", 15.8,
          "GrooVAE, 4 bars: groove autoencoder (sample, vary, interpolate)", "GrooveConverter",
          True, arch=_small("groove", 4), size_pinned=False),
    *(Entry(f"tap2drum_{bars}bar", f"groovae/tap2drum_{bars}bar", 15.6,
            f"GrooVAE, {bars} bar{'s' if bars > 1 else ''}: a tapped rhythm in, a drum groove out "
            "(Drumify)", "GrooveConverter", True, arch=_small("groove_tap", bars),
            size_pinned=False)
      for bars in (1, 2, 3, 4)),
)

@dataclass(frozen=True)
class PythonOnly:
    """A checkpoint of Magenta's Python package (music_vae README), not published for Magenta.js:
    ``importable`` once converted to a Magenta.js folder (magenta-js
    scripts/checkpoint_converter.py), or ``reason`` why not."""

    name: str
    what: str
    importable: bool
    reason: str = ""


#: Magenta's Python (TensorFlow) checkpoints that Magenta.js does not publish
PYTHON_ONLY: tuple[PythonOnly, ...] = (
    PythonOnly("cat-mel_2bar_big", "2-bar melody (large)", True),
    PythonOnly("hierdec-mel_16bar", "16-bar melody, conductor", True),
    PythonOnly("hierdec-trio_16bar", "16-bar trio, conductor", True),
    PythonOnly("cat-drums_2bar_small.lokl", "2-bar drums, strong prior", True),
    PythonOnly("cat-drums_2bar_small.hikl", "2-bar drums, weak prior", True),
    PythonOnly("nade-drums_2bar_full", "2-bar drums, NADE decoder", False, NADE),
    PythonOnly("groovae_2bar_tap_fixed_velocity", "GrooVAE, 2 bars: taps in (as tap2drum_2bar; "
               "config.json: GrooveConverter with tapify)", True),
    PythonOnly("groovae_2bar_add_closed_hh", "GrooVAE, 2 bars: adds a closed hi-hat", False,
               "its encoder reads the groove without the closed hi-hat (add_instruments), an "
               "input neither Magenta.js' GrooveConverter nor latentbridge's groove codec makes"),
    PythonOnly("groovae_2bar_hits_control", "GrooVAE, 2 bars: hits given to the decoder", False,
               "its decoder is conditioned on the hits (hits_as_controls: 9 control inputs per "
               "step), which latentbridge's step graphs do not take"),
)


class CatalogError(ValueError):
    """A name that is not a published checkpoint, or one we cannot import; one line."""


def find(name: str) -> Entry | None:
    """The entry named ``name`` (Magenta.js' id, or its URL's folder name), else None."""
    for entry in CATALOG:
        if name in (entry.name, entry.alias):
            return entry
    return None


def importable(name: str) -> Entry:
    """The entry for ``name``, or CatalogError with the reason it cannot be imported."""
    entry = find(name)
    if entry is None:
        python = next((p for p in PYTHON_ONLY if p.name == name), None)
        if python and not python.importable:
            raise CatalogError(f"{name}: published only as a TensorFlow checkpoint for Magenta's "
                               f"Python package, and not importable: {python.reason}")
        if python:
            raise CatalogError(f"{name}: published only as a TensorFlow checkpoint for Magenta's "
                               "Python package, which latentbridge cannot read; convert it to a "
                               "Magenta.js folder (magenta-js scripts/checkpoint_converter.py) "
                               "and import that folder")
        raise CatalogError(f"{name}: not a folder, an http(s) URL or a published MusicVAE "
                           "checkpoint (see --list)")
    if not entry.importable:
        raise CatalogError(f"{entry.name}: not importable: {entry.reason}")
    return entry


def checkpoint_url(entry: Entry, mirror: str | None = None) -> str:
    """The folder URL of ``entry``: Magenta's server, or the same path under ``mirror`` (or
    ``$LB_MAGENTA_MIRROR``)."""
    base = mirror or os.environ.get(MIRROR_ENV) or PUBLISHED_BASE
    return f"{base.rstrip('/')}/{entry.folder}"


def format_list() -> str:
    """The ``--list`` table: name, published size, importable, what it is (and why not)."""
    width = max(len(e.name) for e in (*CATALOG, *PYTHON_ONLY))
    lines = [f"{'NAME':<{width}}  {'SIZE':>9}  IMPORT  WHAT",
             *(f"{e.name:<{width}}  {_size(e.size_mb):>9}  {'yes' if e.importable else 'no':<6}  "
               f"{e.what}" + (f" [also: {e.alias}]" if e.alias != e.name else "")
               + (f"\n{'':<{width + 21}}why not: {e.reason}" if not e.importable else "")
               + (f"\n{'':<{width + 21}}note: {e.note}" if e.note else "")
               for e in CATALOG)]
    lines.append(f"\n{GROOVE}.\nfrom Magenta.js' checkpoints.json ({PUBLISHED_BASE}); import "
                 "one with: python -m training.import_magenta NAME")
    lines.append("\nMagenta's Python-only (TensorFlow) checkpoints, IMPORT once converted to a "
                 "Magenta.js folder (magenta-js scripts/checkpoint_converter.py): import that "
                 "folder")
    lines += [f"{p.name:<{width}}  {'':>9}  {'yes' if p.importable else 'no':<6}  {p.what}"
              + (f"\n{'':<{width + 21}}why not: {p.reason}" if not p.importable else "")
              for p in PYTHON_ONLY]
    return "\n".join(lines)


def _size(mb: float) -> str:
    return f"{mb / 1000:.2f} GB" if mb >= 1000 else f"{mb:.1f} MB"
