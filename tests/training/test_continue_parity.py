"""Continue (``Engine.continue_``) against the same method written with the PyTorch model's own
step functions, token for token at temperature 0 (argmax), on tiny models trained a few steps on
real music and exported as real bundles (real onnxruntime sessions):

- flat melody: encode the last 2-bar window, prime the decoder with the last bar, run one bar;
- hierarchical melody and trio (4-bar models here, the 16-bar method): encode the last window
  (a shorter clip tiled), the conductor's first bars primed with the music's last bars, the
  next bar free; past the window it slides by one bar; the trio's silent drums read as silence;
- note events: encode the last ``notes`` notes, prime with the last three quarters of them
  (dT, T, P sub-steps), write notes until one starts on the next bar line, bar by bar, in 3/4.

Skipped without torch (the runtime never needs it).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from runtime.codecs.melody import MelodyCodec  # noqa: E402
from runtime.codecs.note_events import NoteEventCodec, segments  # noqa: E402
from runtime.codecs.trio import TrioCodec  # noqa: E402
from runtime.engine import Engine  # noqa: E402
from runtime.midi_io import read_midi  # noqa: E402
from runtime.music import Note  # noqa: E402
from runtime.quantize import to_steps  # noqa: E402
from training.export import export_bundle  # noqa: E402
from training.extract import drum_windows, melody_windows  # noqa: E402
from training.models.modular import ModularVAE, ModularVAEConfig  # noqa: E402
from training.models.musicvae import MusicVAE, MusicVAEConfig  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tunes(shared_data):
    return [read_midi(f) for f in sorted((shared_data / "nottingham" / "melody").glob("*.mid"))[:6]]


def _train(model, batch, steps: int, lr: float = 1e-2):
    torch.manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr)
    for step in range(steps):
        loss, _ = model.loss(batch(step), step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def _musicvae(codec, windows, level_lengths=(), steps=150):
    """A tiny MusicVAE trained ``steps`` steps on ``windows`` (enough to play notes, not only
    "no event")."""
    torch.manual_seed(0)
    depths = list(getattr(codec, "output_depths", [codec.output_depth]))
    model = MusicVAE(MusicVAEConfig(z_size=8, enc_rnn_size=[32], dec_rnn_size=[32],
                                    input_depth=codec.input_depth, output_depths=depths,
                                    max_seq_len=windows.shape[1], level_lengths=list(level_lengths),
                                    split_decoders=len(depths) > 1))

    def batch(step):
        tokens = windows[(np.arange(16) + 16 * step) % len(windows)]
        return {"inputs": torch.from_numpy(np.stack([codec.to_input(t) for t in tokens])),
                "tokens": torch.from_numpy(tokens), "lengths": torch.full((16,), tokens.shape[1])}

    return _train(model, batch, steps)


def _lively(model, std: float = 0.3):
    """Weights drawn from N(0, std): the hierarchical comparisons need a decoder whose argmax
    depends on everything it is given (z, the conductor's bar, the token carried over the bar
    line); a tiny one trained briefly on this little data collapses to one tune whatever it
    reads, and would compare nothing."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, std)
    return model.eval()


# -- grid models: the reference --------------------------------------------------------------

@torch.no_grad()
def grid_reference(model, codec, music: np.ndarray, bars: int, steps_per_bar: int = 16,
                   silent=()) -> np.ndarray:
    """``bars`` bars after ``music`` (tokens on the 16th grid), one bar per round, with the
    PyTorch step functions: the method of docs/groove.md#continue."""
    window = model.config.max_seq_len
    tokens = music.copy()
    if tokens.ndim > 1:
        tokens[:, list(silent)] = 0                       # a silent part reads as silence
    start = len(tokens)
    for _ in range(bars):
        recent = tokens[-window:] if len(tokens) >= window else \
            np.resize(tokens, (window,) + tokens.shape[1:])
        z, _ = model.encode(torch.from_numpy(codec.to_input(recent)[None].astype(np.float32)),
                            torch.tensor([window]))
        primer = tokens[-min(len(tokens), window - steps_per_bar):]
        prev = torch.zeros(1, sum(model.part_depths))
        if model.hierarchical:
            conductor = model.conductor_init(z)
            for bar in primer.reshape((-1, steps_per_bar) + primer.shape[1:]):
                cond, conductor = model.conductor_step(conductor)
                state = model.decoder_init(cond)
                for token in bar:                       # prev carries over the bar line
                    _, state = model.decoder_step(prev, cond, state)
                    prev = model.one_hot(torch.tensor(token).reshape(1, -1))
            cond, conductor = model.conductor_step(conductor)
            state = model.decoder_init(cond)
        else:
            cond, state = z, model.decoder_init(z)
            for token in primer:
                _, state = model.decoder_step(prev, cond, state)
                prev = model.one_hot(torch.tensor(token).reshape(1, -1))
        new = []
        for _ in range(steps_per_bar):
            logits, state = model.decoder_step(prev, cond, state)
            token = model.choose(logits, 0.0)             # [1, parts]
            prev = model.one_hot(token)
            new.append(token[0].numpy())
        new = np.array(new).reshape((steps_per_bar,) + tokens.shape[1:])
        tokens = np.concatenate([tokens, new])
    return tokens[start:]


def _read(codec, clip, bars: int) -> np.ndarray:
    """The clip's tokens, ``bars`` whole bars (what the reference starts from)."""
    tokens = codec.encode(clip)[:bars * 16]
    pad = np.zeros((bars * 16 - len(tokens),) + tokens.shape[1:], tokens.dtype)
    return np.concatenate([tokens, pad])


def _new_notes(out, start):
    return [(n.pitch, round(n.start - start, 6), round(n.end - start, 6), n.is_drum)
            for n in out.notes if n.start >= start - 1e-9]


def _expected(codec, tokens):
    return [(n.pitch, round(n.start, 6), round(n.end, 6), n.is_drum)
            for n in codec.decode(tokens).notes]


def test_flat_continue_matches_pytorch(tunes, tmp_path):
    """The engine's loop (encode the last window, teacher-force the last bar, run free) against
    the same method written with the PyTorch model's step functions, argmax, two rounds."""
    codec = MelodyCodec()
    windows = np.concatenate([melody_windows(t, bars=2) for t in tunes])
    model = _musicvae(codec, windows)
    engine = Engine.load(export_bundle(model, tmp_path / "tiny", name="tiny", codec=codec,
                                       valid_tokens=windows[:8]))
    clip = codec.decode(windows[3])
    expected = _expected(codec, grid_reference(model, codec, _read(codec, clip, 2), bars=2))
    out = engine.continue_(clip, bars=2, temperature=0.0)
    assert _new_notes(out, 8.0) == expected
    assert expected, "the tiny model continued with silence: the comparison would prove little"


def test_hierarchical_continue_matches_pytorch(tunes, tmp_path):
    """A 4-bar hierarchical melody model (conductor + bar decoder) continues a 2-bar clip by 5
    bars: rounds with the clip tiled to the window, then sliding past it (3 bars primed)."""
    codec = MelodyCodec()
    windows = np.concatenate([melody_windows(t, bars=4) for t in tunes])
    model = _lively(_musicvae(codec, windows, level_lengths=(4, 16), steps=0))
    engine = Engine.load(export_bundle(model, tmp_path / "hier", name="hier", codec=codec,
                                       valid_tokens=windows[:8]))
    assert engine.kind == "hierarchical" and engine.bars == 4
    clip = codec.decode(windows[5][:32])
    expected = _expected(codec, grid_reference(model, codec, _read(codec, clip, 2), bars=5))
    out = engine.continue_(clip, bars=5, temperature=0.0)
    assert out.length == 28.0 and _new_notes(out, 8.0) == expected
    assert len({round(start // 4) for _, start, _, _ in expected}) >= 3, expected


def test_trio_continue_matches_pytorch(tunes, shared_data, tmp_path):
    """A 4-bar hierarchical trio (one bar decoder per part) trained without drums: model.json
    marks drums silent; a clip with real Groove drums continues as the reference does, the
    drums read as silence and never played."""
    melody = np.concatenate([melody_windows(t, bars=4) for t in tunes])[:96]
    bass = np.where(melody >= 14, melody - 12, melody)
    windows = np.stack([melody, bass, np.zeros_like(melody)], axis=-1)
    codec = TrioCodec()
    model = _lively(_musicvae(codec, windows, level_lengths=(4, 16), steps=0))
    engine = Engine.load(export_bundle(model, tmp_path / "trio", name="trio", codec=codec,
                                       valid_tokens=windows[:8]))
    assert engine.silent_parts == {2}
    model.silent_parts = engine.silent_parts
    take = sorted((shared_data / "groove" / "drummer1" / "session1").glob("*beat*.mid"))[0]
    music = windows[7][:48].copy()
    music[:, 2] = drum_windows(read_midi(take), bars=4)[0][:48]
    assert music[:, 2].any()
    clip = codec.decode(music)
    reference = grid_reference(model, codec, _read(codec, clip, 3), bars=3, silent=[2])
    out = engine.continue_(clip, bars=3, temperature=0.0)
    assert _new_notes(out, 12.0) == _expected(codec, reference)
    assert reference[:, :2].any() and not reference[:, 2].any()


# -- note events: the reference --------------------------------------------------------------

@torch.no_grad()
def events_reference(model, codec, clip, notes: int, end: float, per_bar: float, bars: int):
    """The new notes [(pitch, start, end)] after ``clip`` (read up to ``end``), bar by bar with
    the PyTorch step functions, argmax; a bar's notes end at its bar line."""
    tpq = codec.ticks_per_quarter
    music = clip.slice(0.0, end)
    for k in range(bars):
        start, stop = end + k * per_bar, end + (k + 1) * per_bar
        tokens = torch.from_numpy(codec.encode(music))
        z, _ = model.encode(tokens[None, -notes:])
        state, prev = model.decoder_init(z), model.start_note(1)
        for note in tokens[-min(len(tokens), notes * 3 // 4):]:
            _, state = model.decoder_step_dt(prev, z, state)
            _, state = model.decoder_step_t(note[None, 0], state)
            _, state = model.decoder_step_p(note[None, 0], note[None, 1], state)
            prev = note[None]
        onset = max(to_steps(n.start, tpq) for n in music.notes)
        first, last = to_steps(start, tpq), to_steps(stop, tpq)
        new = []
        for _ in range(notes):
            logits, state = model.decoder_step_dt(prev, z, state)
            if onset < first:
                values = torch.from_numpy(codec.dt_values)
                reach = values >= min(first - onset, int(values[-1]))
                logits = logits.masked_fill(~reach[None], float("-inf"))
            dt = logits.argmax(-1)
            logits, state = model.decoder_step_t(dt, state)
            t = logits.argmax(-1)
            logits, state = model.decoder_step_p(dt, t, state)
            p = logits.argmax(-1)
            onset = max(onset + int(codec.dt_values[int(dt)]), first)
            if onset >= last:
                break
            duration = int(codec.duration_values[int(t)])
            new.append(Note(int(p) + codec.min_pitch, onset / tpq,
                            min(onset + duration, last) / tpq, codec.velocity))
            prev = torch.stack([dt, t, p], -1)
        music = music.copy(notes=music.notes + new, length=stop)
    return [(n.pitch, n.start, n.end) for n in music.notes if n.start >= end]


def test_note_event_continue_matches_pytorch(shared_data, tmp_path):
    """A tiny note-unrolling VAE (24-note windows) trained on real Nottingham tunes with chords
    continues a 3/4 tune, 3 bars, exactly as the reference (dT masked to the bar line for a
    bar's first note, primer of 18 notes, a note on the next bar line ends the bar)."""
    files = sorted((shared_data / "nottingham" / "full").glob("*.mid"))[:8]
    clips = [read_midi(f) for f in files]
    codec = NoteEventCodec.build(clips, min_pitch=21, max_pitch=108)
    windows = np.concatenate([segments(codec.encode(c), 24, 12) for c in clips])
    dt, t, p = codec.field_sizes
    torch.manual_seed(0)
    model = ModularVAE(ModularVAEConfig(output_depths=[dt, t, p], embed_size=16, hidden_size=32,
                                        z_size=8, max_seq_len=24))
    model = _train(model, lambda s: {"tokens": torch.from_numpy(
        windows[(np.arange(16) + 16 * s) % len(windows)])}, 120, lr=5e-3)
    engine = Engine.load(export_bundle(model, tmp_path / "notes", name="notes", codec=codec,
                                       valid_tokens=windows[-10:], bars=4))
    waltz = read_midi(shared_data / "nottingham" / "full" / "ashover1.mid").slice(0.0, 10.0)
    assert waltz.time_signature == (3, 4)
    expected = events_reference(model, codec, waltz, 24, end=12.0, per_bar=3.0, bars=3)
    out = engine.continue_(waltz, bars=3, temperature=0.0)
    got = [(n.pitch, round(n.start, 6), round(n.end, 6)) for n in out.notes[len(waltz.notes):]]
    assert out.length == 21.0
    assert got == [(pi, round(s, 6), round(e, 6)) for pi, s, e in expected]
    assert len(expected) >= 3 and expected[0][1] >= 12.0, expected
