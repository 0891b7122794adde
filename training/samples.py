"""Hear a run while it trains: a few MIDI files every ``train.sample_every`` steps.

``training.train`` calls :func:`write_samples` into ``RUN/samples/step_NNNNN/``::

    prior_1.mid ... prior_3.mid   prior samples at temperature 1 (the same z at every step, so
                                  the files of two steps compare the same points of the prior)
    input.mid                     the first validation window (the first train window without one)
    reconstruction.mid            its greedy reconstruction from z = the posterior mean

and beside each ``NAME.mid`` a ``NAME.wav`` when :mod:`runtime.audio` can render (FluidSynth and
a General MIDI SoundFont, as ``python -m runtime.render --wav``). Without them the run goes on
with MIDI only, and says so once (one line on stderr per setting of PATH and
``LATENTBRIDGE_SOUNDFONT``); a WAV that fails to render is left out, said once too.
Tokens become clips through the dataset's own codec (the one the runtime plays), for every model
kind through the model interface (training/models/base.py: ``posterior``, ``generate``; a
groove model's values rounded to tokens by its decoding kind, runtime/decoding.py). The folder
is written under a temporary name and renamed into place. From Python::

    >>> from training.samples import write_samples
    >>> write_samples(model, WindowDataset("data/mel_2bar", "valid"), "runs/mel/samples/step_00100")
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from runtime.audio import SOUNDFONT_ENV, AudioError, find_synth
from runtime.decoding import DECODINGS, Decoding
from runtime.files import user_umask
from runtime.midi_io import write_midi

#: prior samples per step
PRIOR_SAMPLES = 3
#: (fluidsynth on PATH, $LATENTBRIDGE_SOUNDFONT) -> the synth found, or None (said once)
_SYNTHS: dict = {}
_SAID: set = set()


def _note_once(message: str) -> None:
    if message not in _SAID:
        _SAID.add(message)
        tqdm.write(f"note: {message}", file=sys.stderr)


def sample_synth():
    """The synthesizer for the samples' WAVs (:func:`runtime.audio.find_synth`), or None when
    there is none: said once, the run goes on with MIDI only::

        >>> sample_synth()          # FluidSynth and a GM SoundFont installed
        Synth(program='/usr/bin/fluidsynth', soundfont=PosixPath('/usr/share/sounds/sf2/...'), ...)
    """
    key = (shutil.which("fluidsynth"), os.environ.get(SOUNDFONT_ENV))
    if key not in _SYNTHS:
        try:
            _SYNTHS[key] = find_synth()
        except AudioError as exc:
            _SYNTHS[key] = None
            _note_once("sample MIDI only, no WAV beside it: " +
                       str(exc).replace("--wav needs", "a WAV needs"))
    return _SYNTHS[key]


def _render_wavs(synth, names: list[str], tmp: Path, folder: Path) -> list[Path]:
    """``tmp/NAME.wav`` for each ``tmp/NAME.mid``, FluidSynth processes side by side (one per
    core: the training waits the shortest time); returns the WAVs as they will be in
    ``folder``. A render that fails is left out and said once: never a reason to stop."""
    def one(name: str) -> Path | None:
        try:
            synth.render(tmp / f"{name}.mid", tmp / f"{name}.wav")
            return folder / f"{name}.wav"
        except AudioError as exc:   # listening aid only
            _note_once(f"a sample WAV was not written ({exc})")
            return None

    with ThreadPoolExecutor(max_workers=max(1, min(len(names), os.cpu_count() or 1))) as pool:
        return [path for path in pool.map(one, names) if path is not None]


@torch.no_grad()
def write_samples(model, dataset, folder, seed: int = 0, count: int = PRIOR_SAMPLES,
                  device: str | torch.device = "cpu", audio: bool = True) -> list[Path]:
    """Write ``count`` prior samples and one reconstruction of ``dataset``'s first window as MIDI
    (and, with ``audio`` and a synthesizer, WAV) into ``folder`` (replaced if it exists);
    returns the files written. Leaves ``model`` in the mode it was in and the global random
    state alone (a seeded generator draws z)."""
    folder = Path(folder)
    # tokens for what generate returns (a continuous decoder's values: rounded by the codec)
    to_tokens = DECODINGS.get(getattr(model, "decoding_kind", None), Decoding).to_tokens
    was_training = model.training
    model.eval()
    try:
        batch = {k: v.to(device) for k, v in dataset.batch(range(1)).items()}
        mu, _ = model.posterior(batch)
        generator = torch.Generator(device=device).manual_seed(seed)
        z = torch.randn(count, mu.shape[1], generator=generator, device=device)
        prior = model.generate(z, dataset.steps, 1.0, generator).cpu().numpy()
        reconstruction = model.generate(mu, dataset.steps, 0.0).cpu().numpy()
    finally:
        model.train(was_training)
    prior = to_tokens(dataset.codec, prior)
    reconstruction = to_tokens(dataset.codec, reconstruction)
    named = [(f"prior_{i + 1}", tokens) for i, tokens in enumerate(prior)]
    named += [("input", batch["tokens"][0].cpu().numpy()), ("reconstruction", reconstruction[0])]

    synth = sample_synth() if audio else None
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        written = []
        for name, tokens in named:
            try:
                clip = dataset.codec.decode(np.asarray(tokens))
            except Exception:  # noqa: BLE001 - a codec may refuse an ill-formed sample: skip it
                continue
            write_midi(clip, tmp / f"{name}.mid")
            written.append(folder / f"{name}.mid")
        if synth is not None:
            written += _render_wavs(synth, [p.stem for p in written], tmp, folder)
        os.chmod(tmp, 0o777 & ~user_umask())   # mkdtemp makes 0700 folders
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return written
