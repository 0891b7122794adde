"""Published Magenta.js checkpoints by name or URL: --list, download (resumable, checked, atomic)
and import into a bundle the runtime plays, all against a real HTTP server on 127.0.0.1.

The server (http.server in a thread) serves random-weight checkpoints in Magenta.js' own layout
(config.json + weights_manifest.json + binary shards, tests/magenta/magenta_js.py) with the
architectures training.magenta_catalog gives for the published sizes, so every byte count is the
real one. ``--mirror`` points the published names at it; nothing here reaches past 127.0.0.1.
"""

from __future__ import annotations

import filecmp
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from runtime.bundle import available_models, resolve
from runtime.engine import Engine
from runtime.midi_io import read_midi
from runtime.music import Clip, Note
from training import import_magenta as im
from training.download import cache_folder
from training.magenta_catalog import CATALOG, PUBLISHED_BASE, PYTHON_ONLY, checkpoint_url, find

_spec = importlib.util.spec_from_file_location(
    "lb_magenta_js", Path(__file__).resolve().parents[1] / "magenta" / "magenta_js.py")
mjs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mjs)

#: the published checkpoints with an architecture for the tests (see magenta_catalog)
SIZED = [e.name for e in CATALOG if e.arch]
#: one of each architecture among them (the two small drums models share theirs, the tap2drum
#: models theirs with other lengths: the 3-bar one stands for them)
IMPORTED = [n for n in SIZED if n not in ("drums_2bar_lokl_small", "tap2drum_1bar",
                                          "tap2drum_2bar", "tap2drum_4bar")]
REPO = Path(__file__).resolve().parents[2]
HTML = b"<!doctype html><html><head><title>Sign in</title></head><body>portal</body></html>"


class CheckpointServer:
    """Folders under ``root`` over HTTP/1.0 on 127.0.0.1, with Range requests, and faults per
    path: ``{"status": 404}``, ``{"html": True}`` (an HTML page with status 200),
    ``{"cut_after": n}`` (the next answer stops after n body bytes, its Content-Length says the
    whole), ``{"ignore_range": True}``. ``requests`` logs ``(path, Range header)``."""

    def __init__(self, root: Path):
        self.root, self.requests, self.faults = root, [], {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
                asked = self.headers.get("Range")
                server.requests.append((path, asked))
                fault = server.faults.get(path, {})
                if "status" in fault:
                    return self.send_error(fault["status"])
                if fault.get("html"):
                    return self._answer(200, HTML, {"Content-Type": "text/html; charset=utf-8"})
                file = server.root / path.lstrip("/")
                if not file.is_file():
                    return self.send_error(404)
                data, start, headers = file.read_bytes(), 0, {}
                if asked and not fault.get("ignore_range"):
                    start = int(re.fullmatch(r"bytes=(\d+)-", asked).group(1))
                    if start >= len(data):
                        return self._answer(416, b"", {"Content-Range": f"bytes */{len(data)}"})
                    headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
                kind = "application/json" if file.suffix == ".json" else "application/octet-stream"
                headers["Content-Type"] = kind
                body = data[start:]
                cut = fault.pop("cut_after", None)
                self._answer(206 if start else 200, body, headers, cut)

            def _answer(self, status, body, headers, cut=None):
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body if cut is None else body[:cut])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def asked(self, suffix: str) -> list:
        return [r for p, r in self.requests if p.endswith(suffix)]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def write_published(root: Path, name: str, seed: int = 0) -> Path:
    """A random-weight checkpoint with the architecture and byte count of the published
    ``name``, where Magenta's server keeps it (``root/<folder>``)."""
    entry = find(name)
    folder = root / entry.folder
    a = entry.arch
    # GrooVAE's continuous outputs are fed back: kernels at a trained network's scale, where
    # float32 rounding does not grow into different hits between PyTorch and ONNX (the
    # export's rollout check has no tie rule for Bernoulli hits)
    std = "fan_in" if a["kind"] in mjs.GROOVE_KINDS else 0.4
    mjs.random_checkpoint(folder, a["kind"], seed=seed, bars=a["bars"], z=a["z"], enc=a["enc"],
                          dec=tuple(a["dec"]), quantize=a["quantize"], std=std)
    return folder


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    """A mirror of Magenta's checkpoint folder holding the checkpoints of SIZED."""
    root = tmp_path_factory.mktemp("mirror")
    for name in SIZED:
        write_published(root, name)
    return root


@pytest.fixture
def server(published):
    srv = CheckpointServer(published)
    yield srv
    srv.close()


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """The cache and the imported-models folder in a temporary home; no proxy for 127.0.0.1."""
    monkeypatch.setenv("LB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LB_MODELS", str(tmp_path / "models"))
    monkeypatch.delenv("LB_MAGENTA_MIRROR", raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    return tmp_path


def run(capsys, *argv) -> tuple[int, str, str]:
    try:
        code = im.main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def shards(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.startswith("group"))


def one_line_failure(code: int, err: str, *needles: str) -> None:
    assert code == 1, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err


def nothing_installed(home: Path, url: str) -> None:
    assert not cache_folder(url).exists()
    assert not (home / "models").exists() or not any((home / "models").iterdir())


# -- --list --------------------------------------------------------------------------------------

def test_list_shows_every_published_musicvae_checkpoint(capsys, home):
    code, out, err = run(capsys, "--list")
    assert code == 0 and err == ""
    rows = {line.split()[0]: line for line in out.splitlines() if line and not line[0].isspace()}
    assert [e.name for e in CATALOG] == [n for n in rows if n in {e.name for e in CATALOG}]
    assert len(CATALOG) == 25   # the MusicVAE entries of Magenta.js' checkpoints.json
    for entry in CATALOG:
        size = "1.71 GB" if entry.size_mb >= 1000 else f"{entry.size_mb:.1f} MB"
        assert re.search(rf"{re.escape(size)}\s+{'yes' if entry.importable else 'no'}\s",
                         rows[entry.name]), rows[entry.name]
        if not entry.importable:
            assert f"why not: {entry.reason}" in out
    # what importable means: the importer's own converters, none of its refusals
    for entry in CATALOG:
        assert (entry.converter in im.SUPPORTED_CONVERTERS) == entry.importable or \
            entry.name in ("mel_chords",)   # a supported converter, refused for its chords
    assert "trio_4bar" in rows["trio_4bar_lokl_small_q1"] and "trio_16bar" in rows["trio_16bar_xl"]
    # Magenta's Python-only checkpoints: whether a Magenta.js conversion would import, and why not
    for python in PYTHON_ONLY:
        assert re.fullmatch(rf"{re.escape(python.name)}\s+{'yes' if python.importable else 'no'}"
                            rf"\s+{re.escape(python.what)}", rows[python.name]), rows[python.name]
        if not python.importable:
            assert f"why not: {python.reason}" in out
    assert {p.name for p in PYTHON_ONLY if not p.importable} == {
        "nade-drums_2bar_full", "groovae_2bar_add_closed_hh", "groovae_2bar_hits_control"}


@pytest.mark.parametrize("name", SIZED)
def test_catalog_architectures_give_the_published_sizes(published, name):
    """The random checkpoints of these tests weigh what Magenta publishes (size_mb, 0.1 MB);
    where no architecture pins the figure down (GrooVAE: Magenta's groovae configs' 16.3 MB
    against 15.6 / 15.8 published), within the download's own 10 % check."""
    folder = published / find(name).folder
    size = sum(p.stat().st_size for p in shards(folder)) / 1e6
    if find(name).size_pinned:
        assert round(size, 1) == find(name).size_mb
    else:
        assert abs(size - find(name).size_mb) <= 0.1 * find(name).size_mb


def test_unsupported_names_download_nothing(capsys, home, server):
    for name, why in (("multitrack", "MultitrackConverter"), ("mel_chords", "chord"),
                      ("drums_2bar_nade_9_q2", "NADE"),
                      ("groovae_2bar_hits_control", "conditioned on the hits"),
                      ("groovae_2bar_add_closed_hh", "add_instruments"),
                      ("groovae_2bar_tap_fixed_velocity", "TensorFlow checkpoint"),
                      ("no_such_model", "see --list")):
        code, out, err = run(capsys, name, "--mirror", server.url)
        one_line_failure(code, err, name, why)
    assert server.requests == []


# -- download and import -------------------------------------------------------------------------

@pytest.mark.parametrize("name", IMPORTED)
def test_published_name_downloads_imports_and_plays(capsys, home, server, published, name):
    """By name through the mirror: downloaded byte for byte, imported into the imported-models
    folder, found by name (available_models, resolve) and decoded by the runtime engine."""
    code, out, err = run(capsys, name, "--mirror", server.url)
    assert code == 0, err
    bundle = home / "models" / name
    assert out.splitlines()[0].startswith(f"wrote {bundle} (kind ")
    assert f"load it by name: {name}" in out

    url = checkpoint_url(find(name), server.url)
    cached = cache_folder(url)
    served = published / find(name).folder
    assert sorted(p.name for p in cached.iterdir()) == sorted(p.name for p in served.iterdir())
    assert all(filecmp.cmp(cached / p.name, p, shallow=False) for p in served.iterdir())
    assert not list(cached.parent.glob(".*.partial"))

    meta = json.loads((bundle / "model.json").read_text())
    assert meta["data"]["url"] == url and meta["data"]["published_name"] == name
    assert name in available_models() and resolve(name) == bundle
    engine = Engine.load(name)
    z = np.random.default_rng(0).normal(size=(2, engine.z_size)).astype(np.float32)
    clips = engine.decode(z, temperature=0.0)
    assert len(clips) == 2 and all(c.length == engine.bars * 4 for c in clips)
    assert sum(len(c.notes) for c in clips) > 0
    if engine.kind == "groove":   # Magenta's decoding, and the tool its input serves
        assert meta["decoding"]["feedback_mask"] == "none"
        args = find(name).arch["kind"]
        tool = {"groove_humanize": "groove", "groove_tap": "drumify"}.get(args)
        assert [t for t in ("groove", "drumify") if engine.offers(t)] == ([tool] if tool else [])
        assert engine.bars == find(name).arch["bars"]
        if tool == "drumify":   # a bass line of 4 bars through a 3-bar model: two windows
            line = Clip([Note(40, b / 2, b / 2 + 0.25, velocity=90) for b in range(32)],
                        length=16.0)
            beat = engine.drumify(line, temperature=0.0)
            assert beat.length == 16.0 and beat.notes and all(n.is_drum for n in beat.notes)


def test_groove_by_name_then_render_groove(home, server, shared_data, tmp_path):
    """The two commands a musician types, each in a fresh process: ``python -m
    training.import_magenta groovae_2bar_humanize`` (from the loopback mirror) and ``python -m
    runtime.render groove IN.mid --model groovae_2bar_humanize``: the take's hits come back,
    played by the imported model (its velocities, its timing)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", LB_MAGENTA_MIRROR=server.url)
    name = "groovae_2bar_humanize"
    proc = subprocess.run([sys.executable, "-m", "training.import_magenta", name], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"python -m runtime.render groove IN.mid --model {name}" in proc.stdout

    take = sorted((shared_data / "groove" / "drummer1" / "session1").glob("*beat_4-4.mid"))[0]
    out = tmp_path / "played.mid"
    proc = subprocess.run([sys.executable, "-m", "runtime.render", "groove", str(take), "--model",
                           name, "--bars", "2", "--seed", "1", "-o", str(out)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    played, source = read_midi(out), read_midi(take).slice(0.0, 8.0)
    engine = Engine.load(name)
    hits = engine.tokens(source)[:, :9]
    assert played.length == 8.0 and len(played.notes) == int(hits.sum()) > 10
    np.testing.assert_array_equal(engine.tokens(played)[:, :9], hits)   # the same hits
    assert len({n.velocity for n in played.notes}) > 5                   # velocities played
    assert any(abs(n.start * 4 - round(n.start * 4)) > 1e-3 for n in played.notes)   # off grid


def test_a_cached_checkpoint_imports_offline(capsys, home, server, tmp_path):
    assert run(capsys, "mel_2bar_small", "--mirror", server.url, "--download-only")[0] == 0
    mirror = server.url
    server.close()   # the server is gone: the cache is enough
    code, out, err = run(capsys, "mel_2bar_small", tmp_path / "mel", "--mirror", mirror)
    assert code == 0, err
    assert Engine.load(tmp_path / "mel").kind == "flat"


def test_any_url_of_a_checkpoint_folder(capsys, home, server, tmp_path):
    """A URL outside the catalog (with a trailing /weights_manifest.json, as people paste it)."""
    url = f"{server.url}/music_vae/drums_2bar_hikl_small/weights_manifest.json"
    code, out, err = run(capsys, url, "-o", tmp_path / "drums")
    assert code == 0, err
    meta = json.loads((tmp_path / "drums" / "model.json").read_text())
    assert meta["codec"]["name"] == "drums" and meta["name"] == "drums"
    assert meta["data"]["url"] == url.rsplit("/", 1)[0]


def test_resume_after_a_cut_transfer(capsys, home, server, published):
    """The second shard stops after 1 MB: one line, the part kept, nothing installed; the next
    run asks for the rest with a Range request and the first shard is not fetched again."""
    name, cut = "mel_2bar_small", 1_000_000
    served = shards(published / find(name).folder)
    target = "/" + served[1].relative_to(published).as_posix()
    server.faults[target] = {"cut_after": cut}
    url = checkpoint_url(find(name), server.url)

    code, out, err = run(capsys, name, "--mirror", server.url)
    one_line_failure(code, err, f"transfer cut at {cut} of {served[1].stat().st_size} bytes",
                     "run the same command again to resume")
    nothing_installed(home, url)
    partial = cache_folder(url).with_name(f".{cache_folder(url).name}.partial")
    assert (partial / f"{served[1].name}.part").stat().st_size == cut

    server.requests.clear()
    code, out, err = run(capsys, name, "--mirror", server.url, "--download-only")
    assert code == 0, err
    assert out.strip() == str(cache_folder(url))
    assert server.asked(served[1].name) == [f"bytes={cut}-"]
    assert server.asked(served[0].name) == []
    assert filecmp.cmp(cache_folder(url) / served[1].name, served[1], shallow=False)


def test_a_server_without_ranges_sends_the_file_again(capsys, home, server, published):
    name = "mel_2bar_small"
    served = shards(published / find(name).folder)[0]
    target = "/" + served.relative_to(published).as_posix()
    server.faults[target] = {"cut_after": 12345, "ignore_range": True}
    assert run(capsys, name, "--mirror", server.url, "--download-only")[0] == 1
    code, out, err = run(capsys, name, "--mirror", server.url, "--download-only")
    assert code == 0, err
    assert filecmp.cmp(Path(out.strip()) / served.name, served, shallow=False)


def test_a_short_shard_is_refused_and_fetched_afresh(capsys, home, server, tmp_path):
    root = tmp_path / "short"
    folder = write_published(root, "drums_2bar_lokl_small")
    last = shards(folder)[-1]
    last.write_bytes(last.read_bytes()[:-4096])        # the server's file is 4 kB short
    short = CheckpointServer(root)
    try:
        code, out, err = run(capsys, "drums_2bar_lokl_small", "--mirror", short.url)
        url = checkpoint_url(find("drums_2bar_lokl_small"), short.url)
        one_line_failure(code, err, "the manifest's weights need")
        nothing_installed(home, url)
        partial = cache_folder(url).with_name(f".{cache_folder(url).name}.partial")
        assert not list(partial.glob("group*"))   # the next run fetches the group afresh
    finally:
        short.close()


def test_a_corrupt_shard_is_refused_at_import(capsys, home, tmp_path):
    root = tmp_path / "corrupt"
    folder = write_published(root, "mel_2bar_small")
    first = shards(folder)[0]
    first.write_bytes(b"\xff" * 64 + first.read_bytes()[64:])   # NaNs, the right size
    corrupt = CheckpointServer(root)
    try:
        code, out, err = run(capsys, "mel_2bar_small", "--mirror", corrupt.url)
        one_line_failure(code, err, "NaN or infinite values (a corrupt shard?)")
        assert not (home / "models").exists() or not any((home / "models").iterdir())
    finally:
        corrupt.close()


@pytest.mark.parametrize("file", ["weights_manifest.json", "config.json", "shard"])
def test_an_html_answer_is_refused(capsys, home, server, published, file):
    name = "mel_2bar_small"
    folder = published / find(name).folder
    target = shards(folder)[2] if file == "shard" else folder / file
    server.faults["/" + target.relative_to(published).as_posix()] = {"html": True}
    code, out, err = run(capsys, name, "--mirror", server.url)
    one_line_failure(code, err, "answered an HTML page")
    nothing_installed(home, checkpoint_url(find(name), server.url))


@pytest.mark.parametrize("missing", ["folder", "shard"])
def test_http_404(capsys, home, server, published, missing):
    if missing == "folder":
        code, out, err = run(capsys, f"{server.url}/music_vae/no_such_checkpoint")
        one_line_failure(code, err, "no_such_checkpoint/config.json: HTTP 404")
    else:
        folder = published / find("mel_2bar_small").folder
        target = "/" + shards(folder)[-1].relative_to(published).as_posix()
        server.faults[target] = {"status": 404}
        code, out, err = run(capsys, "mel_2bar_small", "--mirror", server.url)
        one_line_failure(code, err, f"{target}: HTTP 404")
    assert not (Path(home) / "models").exists()


def test_offline(capsys, home):
    """A mirror nobody listens on (connection refused): one line, exit 1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]   # closed again below: nothing listens there
    code, out, err = run(capsys, "mel_2bar_small", "--mirror", f"http://127.0.0.1:{port}")
    one_line_failure(code, err, f"cannot reach 127.0.0.1:{port}", "offline")


def test_a_checkpoint_of_the_wrong_size_is_refused_before_its_shards(capsys, home, tmp_path):
    """Something else under a published name (here a tiny model): stopped at the manifest."""
    root = tmp_path / "wrong"
    mjs.random_checkpoint(root / "music_vae" / "mel_2bar_small", "melody", bars=2, z=8)
    wrong = CheckpointServer(root)
    try:
        code, out, err = run(capsys, "mel_2bar_small", "--mirror", wrong.url)
        one_line_failure(code, err, "the published checkpoint has 17.7 MB")
        assert [p for p, _ in wrong.requests] == ["/music_vae/mel_2bar_small/config.json",
                                                  "/music_vae/mel_2bar_small/weights_manifest.json"]
    finally:
        wrong.close()


def test_an_unsupported_model_at_a_url_stops_after_its_config(capsys, home, tmp_path):
    root = tmp_path / "multi"
    config = mjs.random_checkpoint(root / "multitrack", "melody", bars=1, z=4, enc=4, dec=(4,))
    config["dataConverter"]["type"] = "MultitrackConverter"
    (root / "multitrack" / "config.json").write_text(json.dumps(config))
    multi = CheckpointServer(root)
    try:
        code, out, err = run(capsys, f"{multi.url}/multitrack", tmp_path / "out")
        one_line_failure(code, err, "multitrack models are not supported")
        assert [p for p, _ in multi.requests] == ["/multitrack/config.json"]
        assert not list((home / "cache" / "magenta").iterdir())[1:]   # at most the lock file
        assert not [p for p in (home / "cache" / "magenta").iterdir() if p.is_dir()]
    finally:
        multi.close()


def test_bad_usage_and_the_published_default(capsys, home):
    code, out, err = run(capsys)
    assert code == 2 and "NAME_OR_URL is required" in err
    code, out, err = run(capsys, "ftp://example.org/x")
    one_line_failure(code, err, "not a folder, an http(s) URL or a published")
    assert checkpoint_url(find("trio_4bar")) == f"{PUBLISHED_BASE}/music_vae/trio_4bar"
