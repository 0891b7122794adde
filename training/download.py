"""Download a Magenta.js checkpoint folder into latentbridge's cache: resumable, checked, atomic.

Only when asked (``python -m training.import_magenta NAME_OR_URL``): nothing here runs at import
time. ``config.json`` comes first and is checked before any weights are fetched, then
``weights_manifest.json``, then the shards it names, with one tqdm bar for all the bytes::

    >>> from training.download import download_checkpoint, DownloadError
    >>> folder = download_checkpoint(
    ...     "https://storage.googleapis.com/magentadata/js/checkpoints/music_vae/mel_2bar_small",
    ...     expected_mb=17.7)
    >>> sorted(p.name for p in folder.iterdir())
    ['config.json', 'group1-shard1of5', ..., 'weights_manifest.json']

- **Cache**: ``$LB_CACHE`` or ``~/.cache/latentbridge``, under ``magenta/<folder>-<hash>``
  (``hash``: of the URL, so a mirror and Magenta's server never mix). A complete folder there is
  reused without touching the network.
- **Resume**: files arrive as ``NAME.part`` in ``.<folder>-<hash>.partial/``; after a cut
  transfer the next run asks for the rest (HTTP ``Range``) and appends, or starts the file again
  where the server ignores ranges.
- **Checks**: every response's length (``Content-Length``, ``Content-Range``); an HTML answer
  (a portal or a wrong URL) is refused; the shards of each manifest group must hold exactly the
  bytes their weights need (shape x dtype), a group that does not is deleted so that the next run
  fetches it afresh; the manifest's weights must come to the published size (``expected_mb``,
  within ``SIZE_SLACK``). No weights file reaches the cache folder before all of that passed:
  the partial folder is renamed into place at the end.
- **Errors**: :class:`DownloadError`, one line (offline, HTTP status, cut transfer, wrong size).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import re
import shutil
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable

from training.import_magenta import CONFIG, MANIFEST, MagentaImportError, group_sizes

CACHE_ENV = "LB_CACHE"
CHUNK = 1 << 16
TIMEOUT = 30.0
#: how far the manifest's weights may be from the published size before the download stops
#: (published sizes are rounded to 0.1 MB; a wrong checkpoint or an error page is far off)
SIZE_SLACK = 0.10
USER_AGENT = "latentbridge (training.download)"


class DownloadError(RuntimeError):
    """A download that failed; the message is one line for the user."""


def cache_dir() -> Path:
    """``$LB_CACHE`` or ``~/.cache/latentbridge``: downloads live under its ``magenta/``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "latentbridge").expanduser()


def checkpoint_folder_url(url: str) -> str:
    """The folder URL of a checkpoint (a trailing ``/``, ``/config.json`` or
    ``/weights_manifest.json`` removed); DownloadError for anything but http(s)."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DownloadError(f"{url[:80]}: not an http(s) URL of a checkpoint folder")
    path = parts.path.rstrip("/")
    for name in (CONFIG, MANIFEST):
        if path.endswith("/" + name):
            path = path[: -len(name) - 1]
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def cache_folder(url: str) -> Path:
    """Where the checkpoint at ``url`` is (or will be) kept."""
    url = checkpoint_folder_url(url)
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", url.rsplit("/", 1)[-1])[:60].lstrip(".") or "checkpoint"
    return cache_dir() / "magenta" / f"{name}-{hashlib.sha256(url.encode()).hexdigest()[:10]}"


def download_checkpoint(url: str, expected_mb: float | None = None, progress: bool = True,
                        check_config: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """Fetch the checkpoint folder at ``url`` into the cache (or find it there); returns the
    complete local folder. ``check_config(config)`` may refuse the model (raise) before any
    weights are fetched; ``expected_mb`` is the published size of the weights."""
    url = checkpoint_folder_url(url)
    final = cache_folder(url)
    if _complete(final):
        if check_config:
            check_config(json.loads((final / CONFIG).read_text()))
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = final.with_name(f".{final.name}.partial")
    with _lock(final.with_name(f".{final.name}.lock")):
        partial.mkdir(exist_ok=True)
        config = _fetch_json(url, CONFIG, partial)
        if not isinstance(config, dict):
            raise DownloadError(f"{url}/{CONFIG}: not a JSON object (is this a checkpoint folder?)")
        if check_config:
            try:
                check_config(config)
            except Exception:
                if not any(f.name.startswith("group") for f in partial.iterdir()):
                    shutil.rmtree(partial, ignore_errors=True)   # nothing worth keeping
                raise
        old_manifest = _read_json(partial / MANIFEST)
        manifest = _fetch_json(url, MANIFEST, partial)
        try:
            groups = group_sizes(manifest, f"{url}/{MANIFEST}")
        except MagentaImportError as exc:
            raise DownloadError(str(exc)) from None
        if old_manifest is not None and old_manifest != manifest:   # changed on the server
            for path in partial.iterdir():
                if path.name not in (CONFIG, MANIFEST):
                    path.unlink()
        total = sum(need for _, need in groups)
        if expected_mb and abs(total / 1e6 - expected_mb) > SIZE_SLACK * expected_mb:
            raise DownloadError(f"{url}/{MANIFEST} lists {total / 1e6:.1f} MB of weights, the "
                                f"published checkpoint has {expected_mb:g} MB: not that checkpoint "
                                "(a wrong URL or mirror?)")
        _fetch_shards(url, partial, groups, total, progress)
        _install(partial, final)
    return final


# -- pieces ------------------------------------------------------------------------------------

def _complete(folder: Path) -> bool:
    """A cached folder is used as it is when its manifest's shards hold the right byte counts."""
    manifest = _read_json(folder / MANIFEST)
    if manifest is None or _read_json(folder / CONFIG) is None:
        return False
    try:
        groups = group_sizes(manifest)
    except MagentaImportError:
        return False
    return all(_size_of(folder, paths) == need for paths, need in groups)


def _size_of(folder: Path, paths: list[str]) -> int | None:
    try:
        return sum((folder / p).stat().st_size for p in paths)
    except OSError:
        return None


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def _lock(path: Path):
    """One download per checkpoint at a time (POSIX advisory lock; none where fcntl lacks)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _open(url: str, offset: int = 0):
    """``urlopen`` with one-line errors: DownloadError for HTTP errors and no connection.
    Returns the response, or None for 416 (asked past the end: the part may be complete)."""
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                      timeout=TIMEOUT)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and offset:
            return None
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        reason = getattr(reason, "strerror", None) or str(reason) or type(exc).__name__
        host = urllib.parse.urlsplit(url).netloc
        raise DownloadError(f"cannot reach {host} ({reason}): offline, or the server is down? "
                            "Run the same command again to resume") from None


def _refuse_html(url: str, response) -> None:
    kind = response.headers.get("Content-Type", "")
    if "text/html" in kind.lower():
        raise DownloadError(f"{url}: the server answered an HTML page, not checkpoint data (a "
                            "login or captive portal, or a wrong URL?)")


def _fetch_json(url: str, name: str, folder: Path):
    """``url/name`` parsed as JSON, also written to ``folder/name`` (small: always fetched)."""
    address = f"{url}/{name}"
    response = _open(address)
    with response:
        _refuse_html(address, response)
        length = response.headers.get("Content-Length")
        try:
            body = response.read(64 << 20)
        except (OSError, http.client.HTTPException) as exc:
            body, length = b"", f"cut ({type(exc).__name__})"
        if length is not None and str(len(body)) != length:
            raise DownloadError(f"{address}: transfer cut at {len(body)} of {length} bytes; run "
                                "the same command again to resume")
    try:
        value = json.loads(body)
    except ValueError:
        what = "an HTML page" if body.lstrip()[:1] == b"<" else "not JSON"
        raise DownloadError(f"{address}: the server answered {what}, not the checkpoint's "
                            f"{name} (a wrong URL?)") from None
    tmp = folder / f"{name}.tmp"
    tmp.write_bytes(body)
    os.replace(tmp, folder / name)
    return value


def _fetch_shards(url: str, folder: Path, groups, total: int, progress: bool) -> None:
    from tqdm import tqdm

    have = sum(_present(folder, p) for paths, _ in groups for p in paths)
    # disable=None: a bar on a terminal, nothing in a pipe or a log
    with tqdm(total=total, initial=min(have, total), unit="B", unit_scale=True,
              unit_divisor=1000, desc=url.rsplit("/", 1)[-1], leave=False,
              disable=None if progress else True) as bar:
        for paths, need in groups:
            for path in paths:
                _fetch_file(f"{url}/{path}", folder / path, bar)
            size = _size_of(folder, paths)
            if size != need:
                for path in paths:   # inconsistent with the manifest: fetch afresh next time
                    (folder / path).unlink(missing_ok=True)
                raise DownloadError(f"{url}: shards {', '.join(paths)[:60]} hold {size} bytes, "
                                    f"the manifest's weights need {need}: the server's files are "
                                    "damaged or not this checkpoint's")


def _present(folder: Path, name: str) -> int:
    for path in (folder / name, folder / f"{name}.part"):
        if path.is_file():
            return path.stat().st_size
    return 0


def _fetch_file(url: str, dest: Path, bar, retried: bool = False) -> None:
    """``url`` into ``dest``, continuing ``dest.part`` where a cut transfer left it."""
    if dest.is_file():
        return
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.is_file() else 0
    response = _open(url, offset)
    if response is None:   # 416: the part already holds everything, or is stale
        if retried:
            raise DownloadError(f"{url}: the server refuses every range request")
        part.unlink()
        bar.update(-offset)
        return _fetch_file(url, dest, bar, retried=True)
    with response:
        _refuse_html(url, response)
        start = offset if response.status == 206 else 0
        if response.status == 206:
            match = re.match(r"bytes (\d+)-\d+/(\d+|\*)", response.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != offset:
                raise DownloadError(f"{url}: the server answered a range that does not continue "
                                    "the partial file")
        elif offset:   # a whole file after all: the server ignores ranges
            bar.update(-offset)
        length = response.headers.get("Content-Length")
        expected = start + int(length) if length and length.isdigit() else None
        size, cut = start, ""
        with open(part, "ab" if start else "wb") as handle:   # a full disk: OSError, one line
            while True:
                try:
                    chunk = response.read(CHUNK)
                except (OSError, http.client.HTTPException) as exc:   # reset, timeout, ...
                    cut = f" ({type(exc).__name__})"
                    break
                if not chunk:
                    break
                handle.write(chunk)
                size += len(chunk)
                bar.update(len(chunk))
    if cut or (expected is not None and size != expected):
        raise DownloadError(f"{url}: transfer cut at {size} of {expected or '?'} bytes{cut}; run "
                            "the same command again to resume")
    os.replace(part, dest)


def _install(partial: Path, final: Path) -> None:
    """The finished folder takes the cache's place in one rename (an old, incomplete one moves
    aside first)."""
    for leftover in partial.glob("*.tmp"):
        leftover.unlink()
    if final.exists():
        aside = final.with_name(f".{final.name}.old.{os.getpid()}")
        os.replace(final, aside)
        shutil.rmtree(aside, ignore_errors=True)
    os.replace(partial, final)
