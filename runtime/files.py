"""Write output files atomically, with the user's umask: a temp file in the same folder, then rename.

    >>> from runtime.files import atomic_path, atomic_write
    >>> atomic_write("out/clip.png", png_bytes)                # bytes, or a function of the handle
    >>> with atomic_path("out/clip.wav") as tmp:                # a tool writes the file itself
    ...     subprocess.run(["fluidsynth", "-F", str(tmp), ...], check=True)

A reader never sees a half-written file: the temp file (``.NAME.XXXX.tmp``) is renamed over the
target only when it is complete, and removed on any error. ``tempfile.mkstemp`` creates files
readable by their owner only (0600); the finished file gets the mode a plain ``open()`` would give
(0666 less the umask), so a DAW running as another user, or a shared folder, can read it.
Folders are created with the umask too (``os.makedirs``' default mode).
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


def user_umask() -> int:
    """The process's umask (read by setting and restoring it; there is no getter)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path):
    """Yield a temp path beside ``path``; on a clean exit it gets the umask's mode and is renamed
    to ``path``, on an error it is removed. The folder is created if missing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~user_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write(path, data) -> Path:
    """Write ``data`` (bytes, or a function that writes to a binary handle) to ``path``."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            if callable(data):
                data(handle)
            else:
                handle.write(data)
    return Path(path)
