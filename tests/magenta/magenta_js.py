"""Run the real @magenta/music under node, and write checkpoints in its layout (test helpers).

@magenta/music is installed with ``npm ci`` from the committed ``package.json`` and
``package-lock.json`` next to this file into a cache folder (``~/.cache/latentbridge-node``, or
``$LATENTBRIDGE_NODE_CACHE``) and reused until the lock file changes; ``mvae_harness.js`` loads a
checkpoint folder with it and writes what Magenta.js computes as JSON::

    node_modules = ensure_magenta_js()                       # npm ci on first use only
    result = run_magenta_js(node_modules, ckpt_dir, z=z, sequences=[note_sequence(clip)])
    result["outputs"]   # [B][T][D] one-hot decoder output (argmax decoding), result["mu"] [B][Z]
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

from runtime.music import Clip
from training.import_magenta import (DEFAULT_DRUM_PITCH_CLASSES, write_tfjs_checkpoint)

MAGENTA_MUSIC_VERSION = "1.23.1"  # pinned in package.json next to this file
HARNESS = Path(__file__).with_name("mvae_harness.js")
PACKAGE_JSON = Path(__file__).with_name("package.json")
PACKAGE_LOCK = Path(__file__).with_name("package-lock.json")
STAMP = ".latentbridge-lock-sha256"  # in the cache: the lock file hash it was installed from
# Inside pytest-timeout's 300 s, so a hung registry fails the test with npm's reason.
NPM_TIMEOUT_S = 240
NODE_CACHE = Path(os.environ.get("LATENTBRIDGE_NODE_CACHE",
                                 Path.home() / ".cache" / "latentbridge-node"))


def _node_required() -> bool:
    """CI (``CI`` set, as ``.ci/run`` does) and ``LATENTBRIDGE_REQUIRE_NODE=1`` turn a missing
    node into a failure: there the parity tests must run, not quietly skip."""
    ci = os.environ.get("CI", "").strip().lower()
    return ci not in ("", "0", "false", "no") or os.environ.get(
        "LATENTBRIDGE_REQUIRE_NODE", "").strip() == "1"


def lock_hash() -> str:
    """sha256 of the committed package.json + package-lock.json: the key of the installed cache."""
    digest = hashlib.sha256()
    for path in (PACKAGE_JSON, PACKAGE_LOCK):
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def ensure_magenta_js(cache: Path = NODE_CACHE) -> Path:
    """``node_modules`` holding the pinned @magenta/music; ``npm ci`` from the committed lock file
    on first use, and again whenever the lock file changes (the cache is keyed on its hash).

    The install goes to a fresh folder that is renamed into place when complete, so an
    interrupted install never looks like a finished one."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        message = (f"{' and '.join(missing)} not on PATH: the Magenta.js parity tests need node "
                   "and npm (apt-get install nodejs npm)")
        if _node_required():
            pytest.fail(f"{message}; required here (CI or LATENTBRIDGE_REQUIRE_NODE=1)",
                        pytrace=False)
        pytest.skip(message)
    key = lock_hash()
    installed = cache / "node_modules" / "@magenta" / "music" / "package.json"

    def ready() -> bool:
        try:
            return ((cache / STAMP).read_text().strip() == key and
                    json.loads(installed.read_text()).get("version") == MAGENTA_MUSIC_VERSION)
        except (OSError, ValueError):
            return False

    if ready():
        return cache / "node_modules"
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{cache.name}.", dir=cache.parent))
    shutil.copyfile(PACKAGE_JSON, tmp / PACKAGE_JSON.name)
    shutil.copyfile(PACKAGE_LOCK, tmp / PACKAGE_LOCK.name)
    command = ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
    try:
        proc = subprocess.run(command, cwd=tmp, capture_output=True, text=True,
                              timeout=NPM_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        shutil.rmtree(tmp, ignore_errors=True)
        pytest.fail(f"npm ci (@magenta/music {MAGENTA_MUSIC_VERSION}) took over {NPM_TIMEOUT_S} s "
                    "(registry unreachable?)", pytrace=False)
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        last = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-1]
        pytest.fail(f"npm ci (@magenta/music {MAGENTA_MUSIC_VERSION}) failed with exit status "
                    f"{proc.returncode}: {last}", pytrace=False)
    (tmp / STAMP).write_text(key + "\n")
    if ready():  # a concurrent run finished first: use its install, drop ours
        shutil.rmtree(tmp, ignore_errors=True)
        return cache / "node_modules"
    if cache.exists():  # an install from another lock file: move it aside, then out of the way
        old = Path(tempfile.mkdtemp(prefix=f".{cache.name}.old.", dir=cache.parent))
        os.replace(cache, old / cache.name)
        shutil.rmtree(old, ignore_errors=True)
    os.replace(tmp, cache)
    return cache / "node_modules"


def run_magenta_js(node_modules: Path, checkpoint: Path, z=None, sequences=None,
                   inputs=None, converters=None) -> dict:
    """Decode ``z`` (argmax) and encode ``sequences`` (and raw ``inputs``) with Magenta.js'
    MusicVAE; ``converters`` (data converter specs) also turn the sequences into tensors."""
    with tempfile.TemporaryDirectory() as tmp:
        request, result = Path(tmp) / "request.json", Path(tmp) / "result.json"
        request.write_text(json.dumps({
            "z": [] if z is None else np.asarray(z, dtype=np.float64).tolist(),
            "sequences": sequences or [],
            "inputs": [] if inputs is None else np.asarray(inputs, np.float64).tolist(),
            "converters": converters or []}))
        env = dict(os.environ, NODE_PATH=str(node_modules))
        proc = subprocess.run(["node", str(HARNESS), str(checkpoint), str(request), str(result)],
                              capture_output=True, text=True, timeout=120, env=env)
        assert proc.returncode == 0, f"magenta.js harness failed: {proc.stderr.strip()[-2000:]}"
        return json.loads(result.read_text())


def note_sequence(clip: Clip, steps_per_quarter: int = 4) -> dict:
    """A quantized NoteSequence (as JSON) with the notes of a quantized clip."""
    notes = [{"pitch": n.pitch, "velocity": n.velocity, "program": n.program,
              "isDrum": n.is_drum, "instrument": 9 if n.is_drum else n.program,
              "quantizedStartStep": int(round(n.start * steps_per_quarter)),
              "quantizedEndStep": int(round(n.end * steps_per_quarter))} for n in clip.notes]
    return {"notes": notes, "quantizationInfo": {"stepsPerQuarter": steps_per_quarter},
            "tempos": [{"qpm": clip.tempo}],
            "totalQuantizedSteps": int(round(clip.length * steps_per_quarter))}


# -- random checkpoints in Magenta.js' layout --------------------------------------------------

class _Weights(dict):
    """Kernels ~ N(0, std) (``std="fan_in"``: 1 / sqrt(rows), the scale of a trained network,
    where float32 rounding does not grow through a long recurrence), biases ~ N(0, 0.2)."""

    def __init__(self, seed: int, std: float | str = 0.4):
        super().__init__()
        self.rng = np.random.default_rng(seed)
        self.std = std

    def _kernel(self, rows: int, cols: int) -> np.ndarray:
        std = 1 / np.sqrt(rows) if self.std == "fan_in" else float(self.std)
        return self.rng.normal(0, std, (rows, cols))

    def lstm(self, prefix: str, inputs: int, units: int) -> None:
        self[prefix + "kernel"] = self._kernel(inputs + units, 4 * units)
        self[prefix + "bias"] = self.rng.normal(0, 0.2, 4 * units)

    def dense(self, prefix: str, inputs: int, outputs: int) -> None:
        self[prefix + "kernel"] = self._kernel(inputs, outputs)
        self[prefix + "bias"] = self.rng.normal(0, 0.2, outputs)


def _encoder(w: _Weights, inputs: int, units: int, z: int, segments: int) -> None:
    if segments:
        for d in ("fw", "bw"):
            for level, n_in in enumerate((inputs, 2 * units)):
                w.lstm(f"encoder/hierarchical_level_{level}/cell_0/bidirectional_rnn/{d}/"
                       f"multi_rnn_cell/cell_0/lstm_cell/", n_in, units)
    else:
        for d in ("fw", "bw"):
            w.lstm(f"encoder/cell_0/bidirectional_rnn/{d}/multi_rnn_cell/cell_0/lstm_cell/",
                   inputs, units)
    w.dense("encoder/mu/", 2 * units, z)
    w.dense("encoder/sigma/", 2 * units, z)


def _decoder(w: _Weights, prefix: str, prev: int, cond: int, units: list[int], out: int) -> None:
    for layer, n in enumerate(units):
        w.lstm(f"{prefix}multi_rnn_cell/cell_{layer}/lstm_cell/",
               prev + cond if layer == 0 else units[layer - 1], n)
    w.dense(f"{prefix}z_to_initial_state/", cond, 2 * sum(units))
    w.dense(f"{prefix}output_projection/", units[-1], out)


#: GrooVAE checkpoints: kind -> Magenta.js GrooveConverter args (besides numSteps)
GROOVE_KINDS = {"groove": {}, "groove_humanize": {"humanize": True},
                "groove_tap": {"tapify": True}}


def random_checkpoint(folder: Path, kind: str, seed: int = 0, bars: int = 2, z: int = 8,
                      enc: int = 32, dec: tuple[int, ...] = (32, 32),
                      quantize: str | None = None, std: float | str = 0.4) -> dict:
    """Write a Magenta.js checkpoint with random weights; returns its config.json.

    ``kind``: ``melody`` / ``drums`` (flat), ``hier_melody`` / ``hier_trio`` (conductor + a
    2-level hierarchical encoder, one segment per bar, as Magenta.js requires), ``groove`` /
    ``groove_humanize`` / ``groove_tap`` (GrooVAE: GrooveConverter plain, humanize, tapify;
    27 values per step). ``quantize``: ``"uint8"`` / ``"uint16"`` stores the weights like the
    published ``_q1`` / ``_q2`` ones. ``std``: the kernels' spread (see ``_Weights``)."""
    w = _Weights(seed, std)
    steps = 16 * bars
    segments = bars if kind.startswith("hier_") else 0
    melody_args = {"minPitch": 21, "maxPitch": 108}
    if kind in ("melody", "hier_melody"):
        converter = {"type": "MelodyConverter", "args": dict(melody_args)}
        inputs, outputs = 90, [90]
    elif kind == "drums":
        converter = {"type": "DrumsConverter",
                     "args": {"pitchClasses": DEFAULT_DRUM_PITCH_CLASSES}}
        inputs, outputs = 10, [512]
    elif kind in GROOVE_KINDS:
        converter = {"type": "GrooveConverter", "args": dict(GROOVE_KINDS[kind])}
        inputs, outputs = 27, [27]
    elif kind == "hier_trio":
        converter = {"type": "TrioConverter", "args": {
            "melArgs": dict(melody_args), "bassArgs": dict(melody_args), "drumsArgs": {}}}
        inputs, outputs = 90 + 90 + 512, [90, 90, 512]
    else:
        raise ValueError(kind)
    converter["args"]["numSteps"] = steps
    if segments:
        converter["args"]["numSegments"] = segments
    _encoder(w, inputs, enc, z, segments)
    if segments:
        conductor = dec[0]  # Magenta's conductor has the decoder's layer sizes
        for layer in range(len(dec)):
            w.lstm(f"decoder/hierarchical_level_0/cell_{layer}/lstm_cell/",
                   1 if layer == 0 else conductor, conductor)
        w.dense("decoder/hierarchical_level_0/initial_state/", z, 2 * len(dec) * conductor)
        prefixes = (["core_decoder/decoder/"] if len(outputs) == 1 else
                    [f"core_decoder/core_decoder_{i}/decoder/" for i in range(len(outputs))])
        for prefix, out in zip(prefixes, outputs):
            _decoder(w, prefix, out, conductor, list(dec), out)
    else:
        _decoder(w, "decoder/", outputs[0], z, list(dec), outputs[0])
    config = {"type": "MusicVAE", "dataConverter": converter}
    write_tfjs_checkpoint(folder, config, {k: v.astype(np.float32) for k, v in w.items()},
                          quantize=quantize)
    return config
