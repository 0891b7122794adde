"""Hear a run while it trains: a real tiny training run writes a WAV beside each sample MIDI
(real FluidSynth, real GM SoundFont), sounding where the MIDI has notes; without a synthesizer
the run still trains, writes the MIDI and says why once."""

import os
import shutil
import wave

import numpy as np
import pytest
import torch

from runtime.audio import AudioError, find_synth
from runtime.midi_io import read_midi
from training.configs import get_config
from training.prepare import prepare
from training.train import read_checkpoint, train

torch.set_num_threads(1)
NAMES = ["input", "prior_1", "prior_2", "prior_3", "reconstruction"]


@pytest.fixture(scope="module")
def mel(shared_data, tmp_path_factory):
    """2-bar melody windows of 6 real Nottingham tunes, with a validation split."""
    tunes = [str(p) for p in sorted((shared_data / "nottingham" / "full").glob("*.mid"))[:6]]
    out = tmp_path_factory.mktemp("sampleaudio") / "mel"
    prepare(tunes, out, kind="mel", bars=2, valid=0.3, test=0.0, progress=False)
    return out


def tiny(steps, every):
    cfg = get_config("lb-mel_2bar")
    cfg.model.enc_rnn_size, cfg.model.dec_rnn_size, cfg.model.z_size = [16], [16, 16], 8
    cfg.train.steps, cfg.train.batch_size, cfg.train.threads = steps, 8, 1
    cfg.train.eval_every, cfg.train.eval_batches, cfg.train.sample_every = steps, 1, every
    return cfg


def _rms(path, start_s, end_s) -> float:
    with wave.open(str(path), "rb") as w:
        rate, channels = w.getframerate(), w.getnchannels()
        frames = np.frombuffer(w.readframes(w.getnframes()), np.int16).reshape(-1, channels)
    part = frames[int(start_s * rate):max(int(end_s * rate), int(start_s * rate) + 1)]
    return float(np.sqrt((part.astype(np.float64) ** 2).mean()))


def test_a_wav_beside_each_sample_midi_sounds_where_its_notes_are(mel, tmp_path):
    try:
        find_synth()
    except AudioError as exc:   # CI installs FluidSynth and a SoundFont (scripts/test.sh)
        pytest.skip(f"no synthesizer here: {exc}")
    run = tmp_path / "run"
    train(tiny(4, every=2), mel, run, progress=False)
    for step in ("step_00002", "step_00004"):
        folder = run / "samples" / step
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            f"{n}.{ext}" for n in NAMES for ext in ("mid", "wav"))
        sounding = 0
        for name in NAMES:
            clip = read_midi(folder / f"{name}.mid")
            seconds = 60.0 / clip.tempo
            with wave.open(str(folder / f"{name}.wav"), "rb") as w:   # whole bars + 1 s release
                assert abs(w.getnframes() / w.getframerate() - (clip.length * seconds + 1.0)) < 0.01
            if clip.notes:
                first = min(clip.notes, key=lambda n: n.start)
                loud = _rms(folder / f"{name}.wav", first.start * seconds,
                            min(first.end, first.start + 1.0) * seconds)
                assert loud > 100, (step, name, loud)
                sounding += 1
            else:
                assert _rms(folder / f"{name}.wav", 0.0, clip.length * seconds) < 10   # dither only
        assert sounding >= 1      # the validation window played back has notes


def test_without_a_synthesizer_training_goes_on_with_midi_and_says_so_once(mel, tmp_path,
                                                                           monkeypatch, capsys):
    monkeypatch.setenv("LATENTBRIDGE_SOUNDFONT", str(tmp_path / "missing.sf2"))
    run = tmp_path / "run"
    train(tiny(4, every=2), mel, run, progress=False)
    for step in ("step_00002", "step_00004"):
        assert sorted(p.name for p in (run / "samples" / step).iterdir()) == sorted(
            f"{n}.mid" for n in NAMES)
    said = [line for line in capsys.readouterr().err.splitlines() if "no WAV" in line]
    assert said == [f"note: sample MIDI only, no WAV beside it: {tmp_path / 'missing.sf2'} "
                    "(LATENTBRIDGE_SOUNDFONT): no such SoundFont file"]
    assert read_checkpoint(run / "checkpoint.pt")["step"] == 4      # the run trained to its end
