"""Continue: the clip kept as the start, N new bars in its style, from the shipped bundles;
the priming loop against PyTorch's step functions on the same weights."""

import numpy as np
import pytest

from runtime.engine import Engine, EngineError
from runtime.midi_io import read_midi
from runtime.music import Clip, Note


@pytest.fixture(scope="module")
def mel():
    return Engine.load("mel_2bar")


@pytest.fixture(scope="module")
def tunes(shared_data):
    files = sorted((shared_data / "nottingham" / "melody").glob("*.mid"))[:8]
    return [read_midi(f) for f in files]


def test_continue_keeps_the_clip_and_adds_bars_in_its_key(mel, tunes):
    """Two bars of eight real tunes, four more bars each: the two bars come back untouched, the
    new ones follow them, and at least 80% of the new notes use the pitch classes of the clip
    (a model that ignored the clip would wander off the key)."""
    in_key = total = 0
    for tune in tunes:
        clip = tune.slice(0.0, 8.0)
        out = mel.continue_(clip, bars=4, temperature=0.0)
        assert out.length == 24.0
        assert [n for n in out.notes if n.start < 8.0] == clip.notes
        new = [n for n in out.notes if n.start >= 8.0]
        assert new and all(n.end <= 24.0 + 1e-9 for n in new)
        classes = {n.pitch % 12 for n in clip.notes}
        in_key += sum(n.pitch % 12 in classes for n in new)
        total += len(new)
    assert in_key / total >= 0.8, f"{in_key}/{total} new notes in the clips' pitch classes"


def test_continue_is_seeded_and_reads_whole_bars(mel, tunes):
    clip = tunes[1].slice(0.0, 6.0)                     # a bar and a half: read as two bars
    a = mel.continue_(clip, bars=2, temperature=1.0, seed=5)
    assert a.length == 16.0 and a.notes == mel.continue_(clip, bars=2, temperature=1.0, seed=5).notes
    others = [mel.continue_(clip, bars=2, temperature=1.0, seed=s).notes for s in range(6, 10)]
    assert any(o != a.notes for o in others)
    short = mel.continue_(tunes[2].slice(0.0, 4.0), bars=3, temperature=0.5, seed=1)  # one bar
    assert short.length == 16.0 and [n for n in short.notes if n.start >= 4.0]


def test_continue_drums(shared_data):
    engine = Engine.load("drums_2bar")
    beat = read_midi(sorted((shared_data / "groove" / "drummer1" / "session1")
                            .glob("*beat*.mid"))[0]).slice(0.0, 8.0)
    out = engine.continue_(beat, bars=2, temperature=0.5, seed=0)
    new = [n for n in out.notes if n.start >= 8.0]
    assert out.length == 16.0 and new and all(n.is_drum for n in new)
    assert [n for n in out.notes if n.start < 8.0] == beat.notes


def test_continue_refuses_what_it_cannot_do(mel):
    clip = Clip([Note(60, 0.0, 1.0)], length=4.0)
    for bars in (0, -1, 1.5, True, 65):
        with pytest.raises(EngineError, match="bars"):
            mel.continue_(clip, bars=bars)
    with pytest.raises(EngineError, match="temperature"):
        mel.continue_(clip, temperature=-1)
    with pytest.raises(EngineError, match="nothing to continue"):
        mel.continue_(Clip([], length=8.0))
    for name in ("mel_16bar", "notes_poly"):
        with pytest.raises(EngineError, match="cannot continue"):
            Engine.load(name).continue_(clip)


def test_continue_matches_pytorch_priming(shared_data, tmp_path):
    """The engine's loop (encode the last window, teacher-force the last bar, run free) against
    the same method written with the PyTorch model's step functions, argmax, two rounds."""
    torch = pytest.importorskip("torch")
    from runtime.codecs.melody import MelodyCodec
    from training.export import export_bundle
    from training.extract import melody_windows
    from training.models.musicvae import MusicVAE, MusicVAEConfig

    torch.manual_seed(0)
    codec = MelodyCodec()
    windows = np.concatenate([melody_windows(read_midi(f), bars=2) for f in
                              sorted((shared_data / "nottingham" / "melody").glob("*.mid"))[:6]])
    model = MusicVAE(MusicVAEConfig(z_size=8, enc_rnn_size=[32], dec_rnn_size=[32],
                                    input_depth=90, output_depths=[90], max_seq_len=32))
    optimizer = torch.optim.Adam(model.parameters(), 1e-2)
    for step in range(150):                  # enough to play notes, not only "no event"
        tokens = windows[(np.arange(16) + 16 * step) % 32]
        batch = {"inputs": torch.from_numpy(codec.to_input(tokens)),
                 "tokens": torch.from_numpy(tokens), "lengths": torch.full((16,), 32)}
        loss, _ = model.loss(batch, step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    engine = Engine.load(export_bundle(model, tmp_path / "tiny", name="tiny", codec=codec,
                                       valid_tokens=windows[:8]))

    music = windows[3]
    with torch.no_grad():
        tokens = list(music)
        for _ in range(2):                               # two rounds of one bar each
            recent = np.array(tokens[-32:])
            z, _ = model.encode(torch.from_numpy(codec.to_input(recent))[None],
                                torch.tensor([32]))
            state, prev = model.decoder_init(z), torch.zeros(1, 90)
            for token in recent[-16:]:
                _, state = model.decoder_step(prev, z, state)
                prev = model.one_hot(torch.tensor([[token]]))
            for _ in range(16):
                logits, state = model.decoder_step(prev, z, state)
                token = int(logits.argmax(-1))
                tokens.append(token)
                prev = model.one_hot(torch.tensor([[token]]))
    expected = np.array(tokens[32:])
    out = engine.continue_(codec.decode(music), bars=2, temperature=0.0)
    new = [(n.pitch, n.start - 8.0, n.end - 8.0) for n in out.notes if n.start >= 8.0]
    assert new == [(n.pitch, n.start, n.end) for n in codec.decode(expected).notes]
    assert new, "the tiny model continued with silence: the comparison would prove little"


def test_render_continue(shared_data, tmp_path, capsys):
    """``python -m runtime.render continue IN.mid --bars N``: the file, then N bars; bad input
    is one line (exit status 1 for a failure, 2 for a bad flag value), nothing written."""
    from runtime.render import main

    tune = shared_data / "nottingham" / "melody" / "ashover10.mid"
    source = read_midi(tune)
    out = tmp_path / "longer.mid"
    assert main(["continue", str(tune), "--bars", "3", "--seed", "1", "-o", str(out)]) == 0
    written = read_midi(out)
    whole = -(-source.length // 4) * 4
    assert written.length == pytest.approx(whole + 12.0, abs=0.25)
    assert [(n.pitch, n.start) for n in written.notes if n.start < whole] == \
        [(n.pitch, n.start) for n in source.notes]
    assert [n for n in written.notes if n.start >= whole]
    for argv, message, code in ((["continue", str(tmp_path / "missing.mid")], "no such file", 1),
                                (["continue", str(tune), "--bars", "0"], "--bars", 2),
                                (["continue", str(tune), "--model", "notes_poly"], "cannot continue", 1)):
        assert main(argv + ["-o", str(tmp_path / "bad.mid")]) == code
        assert message in capsys.readouterr().err
    assert not (tmp_path / "bad.mid").exists()
