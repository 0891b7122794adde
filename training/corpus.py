"""music21's corpus as :class:`~runtime.music.Clip` pieces, for datasets (and the score reader).

    >>> from training.corpus import iter_music21, load_file, CorpusError
    >>> for name, item in iter_music21("bach", limit=5):       # music21's own corpus
    ...     if isinstance(item, CorpusError): print("skip", name, item)
    >>> clip = load_file("chorale.mxl")             # runtime.scores: .xml .mxl .abc .krn .mid

Public API: :func:`iter_music21`, :data:`COLLECTIONS`, :func:`chorale_files`,
:func:`score_preference`; and, from :mod:`runtime.scores` (the one
score reader, which the runtime uses too): :func:`load_file`, :func:`load_abc_tunes`,
:func:`score_to_clip`, :class:`CorpusError` (= ``runtime.scores.ScoreError``).

Parsing is slow in music21 (a chorale takes ~0.2 s, a long ABC book many seconds), so
:func:`iter_music21` takes ``limit`` and parses multi-tune ABC files one tune at a time. Every
failure is a :class:`CorpusError` whose message is one line naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from runtime.music import Clip
from runtime.scores import (ScoreError, abc_tunes, load_abc_tunes, load_file,  # noqa: F401
                            music21, score_to_clip)

#: the score reader's error: one class for a score that cannot be read, wherever it is read
CorpusError = ScoreError

#: music21 corpus collections known to work here; any name ``music21.corpus.getComposer``
#: accepts (e.g. "palestrina") works too. "bach" means the four-part chorales only (music21's
#: Riemenschneider list: 371 numbers, 350 distinct files; each file is read once).
COLLECTIONS = ("bach", "essenFolksong", "oneills1850", "ryansMammoth", "airdsAirs")

#: which file to read when music21 stores a work in several formats: the first suffix here
SCORE_FORMATS = (".mxl", ".xml", ".musicxml", ".krn", ".abc", ".mid", ".midi")


def score_preference(path: Path) -> int:
    """Rank of ``path``'s format in :data:`SCORE_FORMATS` (lower is preferred; unknown last)::

        >>> min([Path("bwv269.krn"), Path("bwv269.mxl")], key=score_preference).name
        'bwv269.mxl'
    """
    suffix = Path(path).suffix.lower()
    return SCORE_FORMATS.index(suffix) if suffix in SCORE_FORMATS else len(SCORE_FORMATS)


def chorale_files(m21=None) -> list[tuple[str, Path]]:
    """The Bach chorales as ``(name, file)`` in music21's Riemenschneider order, each file once
    (the numbering lists some chorales twice), MusicXML when music21 also has the ``.krn``::

        >>> chorale_files()[0]
        ('bach/bwv269', PosixPath('.../music21/corpus/bach/bwv269.mxl'))
    """
    m21 = m21 or music21()
    files, seen = [], set()
    for name in m21.corpus.chorales.Iterator(returnType="filename"):
        path = _chorale_path(m21, name)
        if path not in seen:
            seen.add(path)
            files.append((name, path))
    return files


def iter_music21(collection: str, limit: int | None = None, expand_repeats: bool = False,
                 align_pickup: bool = True) -> Iterator[tuple[str, Clip | CorpusError]]:
    """Pieces of a music21 corpus collection as ``(name, Clip or CorpusError)``, lazily.

    ``collection`` is one of :data:`COLLECTIONS` (or another music21 corpus folder). ``limit``
    stops after that many pieces (tunes of multi-tune ABC files count one by one). Names look
    like ``"bach/bwv269"`` or ``"oneills1850/0001-0050#12"``.
    """
    m21 = music21()
    if limit is not None and limit <= 0:
        return
    count = 0
    if collection == "bach":
        # Only the chorales: music21's bach folder also holds cantata movements and analyses.
        sources = chorale_files(m21)
    else:
        paths = sorted(Path(str(p)) for p in m21.corpus.getComposer(collection))
        if not paths:
            raise CorpusError(f"music21 corpus has no collection {collection!r} "
                              f"(known here: {', '.join(COLLECTIONS)})")
        sources = [(f"{collection}/{p.stem}", p) for p in paths]
    for name, path in sources:
        if path.suffix.lower() == ".abc":
            left = None if limit is None else limit - count
            try:
                for tune_name, tune in abc_tunes(path, expand_repeats, align_pickup, left,
                                                  prefix=f"{collection}/"):
                    yield tune_name, tune
                    count += 1
            except CorpusError as exc:  # the whole file is unreadable
                yield name, exc
                count += 1
        else:
            try:
                yield name, load_file(path, expand_repeats, align_pickup)
            except CorpusError as exc:
                yield name, exc
            count += 1
        if limit is not None and count >= limit:
            return


def _chorale_path(m21, name: str) -> Path:
    """The file of one chorale: getWork("bach/bwv245.3") also matches bwv245.37 and may offer
    both .krn and .mxl; take the exact name, MusicXML first."""
    found = m21.corpus.getWork(name)
    paths = [Path(str(p)) for p in (found if isinstance(found, (list, tuple)) else [found])]
    stem = name.rsplit("/", 1)[-1]
    exact = [p for p in paths if p.stem == stem] or paths
    return min(exact, key=score_preference)
