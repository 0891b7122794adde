"""Continue: the clip kept as the start, N new bars in its style, from the shipped bundles
(flat, hierarchical and note-event models; real onnxruntime sessions, real MIDI files). The
priming loops against PyTorch's step functions: tests/training/test_continue_parity.py."""

from dataclasses import replace

import pytest

from runtime.dynamics import mean_velocity
from runtime.engine import Engine, EngineError
from runtime.midi_io import read_midi
from runtime.music import Clip, Note

FULL = ("nottingham", "full")      # melody and chords: what the polyphonic model reads


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
    with pytest.raises(EngineError, match="cannot continue"):
        Engine.load("groove_2bar").continue_(Clip([Note(36, 0.0, 0.25, is_drum=True)], length=4.0))
    with pytest.raises(EngineError, match="nothing to continue"):   # drums only: no notes to read
        Engine.load("notes_poly").continue_(Clip([Note(36, 0.0, 0.25, is_drum=True)], length=4.0))


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
                                (["continue", str(tune), "--model", "groove_2bar"],
                                 "cannot continue", 1)):
        assert main(argv + ["-o", str(tmp_path / "bad.mid")]) == code
        assert message in capsys.readouterr().err
    assert not (tmp_path / "bad.mid").exists()


# -- the 16-bar models and the note-event model ------------------------------------------------

def _tune(shared_data, name, beats, folder=FULL):
    return read_midi(shared_data.joinpath(*folder) / name).slice(0.0, beats)


@pytest.fixture(scope="module")
def trio_clip(shared_data):
    """Four bars of a real tune as a trio: its melody (program 24), its chords as the bass part
    (program 34) and the drums of a real Groove take."""
    tune = _tune(shared_data, "ashover10.mid", 16.0)
    take = sorted((shared_data / "groove" / "drummer1" / "session1").glob("*beat*.mid"))[0]
    drums = read_midi(take).slice(0.0, 16.0).notes
    notes = [replace(n, program=24 if n.track == tune.notes[0].track else 34) for n in tune.notes]
    return tune.copy(notes=notes + [replace(n, is_drum=True) for n in drums])


# (model, clip, beats per bar of the clip, where its new bars start)
CASES = {
    "notes_poly 3/4": ("notes_poly", lambda d: _tune(d, "ashover1.mid", 10.0), 3.0, 12.0),
    "notes_poly 6/8": ("notes_poly", lambda d: _tune(d, "ashover11.mid", 12.0), 3.0, 12.0),
    "mel_16bar": ("mel_16bar", lambda d: _tune(d, "ashover10.mid", 14.0, ("nottingham", "melody")),
                  4.0, 16.0),
    "trio_16bar": ("trio_16bar", None, 4.0, 16.0),
}


@pytest.mark.parametrize("case", list(CASES))
def test_continue_keeps_the_clip_and_adds_whole_bars(case, shared_data, trio_clip):
    """The clip comes back untouched, followed by exactly three bars (the clip's own meter for
    the note-event model, a part bar of the clip filled up to its bar line first); the new bars
    have notes, at the clip's mean velocity; the same seed writes the same bars, others not."""
    name, make, per_bar, end = CASES[case]
    clip = trio_clip if make is None else make(shared_data)
    engine = Engine.load(name)
    out = engine.continue_(clip, bars=3, temperature=1.0, seed=7)
    assert out.length == end + 3 * per_bar and out.time_signature == clip.time_signature
    assert out.notes[:len(clip.notes)] == clip.notes
    new = out.notes[len(clip.notes):]
    assert new, f"{name} continued with silence ({engine.warnings})"
    assert all(end <= n.start < n.end <= out.length for n in new)
    assert {n.velocity for n in new} == {mean_velocity(clip)}
    assert engine.continue_(clip, bars=3, temperature=1.0, seed=7).notes == out.notes
    assert any(engine.continue_(clip, bars=3, temperature=1.0, seed=s).notes != out.notes
               for s in (8, 9, 10))


def test_note_event_continue_is_the_same_bar_by_bar(shared_data):
    """notes_poly writes a bar at a time from the music so far, so continuing by 4 bars at
    temperature 0 is continuing by 1, then 2, then 1 (what the bridge's streamed phrases rely
    on); the bars lie on the clip's own bar lines, also after meter changes (the file's last
    meter counts: ashover1 ends in 3/4 after 2/4 bars)."""
    engine = Engine.load("notes_poly")
    clip = _tune(shared_data, "ashover11.mid", 10.0)           # 6/8: ends at beat 12
    whole = engine.continue_(clip, bars=4, temperature=0.0)
    chained = clip
    for bars in (1, 2, 1):
        chained = engine.continue_(chained, bars=bars, temperature=0.0)
    assert chained.length == whole.length == 24.0 and chained.notes == whole.notes
    tune = read_midi(shared_data.joinpath(*FULL) / "ashover1.mid")
    assert tune.meter_changes[-1][1:] == (3, 4) and tune.length == 95.0
    out = engine.continue_(tune, bars=2, temperature=0.5, seed=1)
    assert out.length == 101.0 and out.meter_changes == tune.meter_changes
    assert out.notes[:len(tune.notes)] == tune.notes and len(out.notes) > len(tune.notes)


def test_trio_continue_keeps_its_instruments(trio_clip):
    """New melody and bass notes play the clip's melody and bass programs; a part the model
    never heard play (trio_16bar: drums) is read as silence and stays silent."""
    engine = Engine.load("trio_16bar")
    out = engine.continue_(trio_clip, bars=2, temperature=1.0, seed=3)
    new = out.notes[len(trio_clip.notes):]
    # each part keeps its own instrument (the codec's part_of): the melody 24, the bass 34
    assert new and {n.program for n in new if not n.is_drum} == {24, 34}
    if 2 in engine.silent_parts:
        assert not [n for n in new if n.is_drum]


@pytest.mark.parametrize("name", ["notes_poly", "mel_16bar", "trio_16bar"])
def test_render_continue_with_the_other_models(name, shared_data, tmp_path):
    """``render continue IN.mid --bars 2 --model NAME``: the whole file, then two bars (the
    note-event model in the file's meter: ashover1 ends on a 3/4 bar line at beat 95; the
    grid models read 4/4 bars: 24 of them)."""
    from runtime.render import main

    tune = shared_data.joinpath(*FULL) / "ashover1.mid"
    source = read_midi(tune)
    out = tmp_path / f"{name}.mid"
    assert main(["continue", str(tune), "--bars", "2", "--model", name, "--seed", "2",
                 "-o", str(out)]) == 0
    written = read_midi(out)
    end, added = (95.0, 6.0) if name == "notes_poly" else (96.0, 8.0)
    assert written.length == pytest.approx(end + added, abs=1e-3)
    assert [(n.pitch, n.start) for n in written.notes if n.start < end - 1e-6] == \
        [(n.pitch, n.start) for n in source.notes]
    assert [n for n in written.notes if n.start >= end - 1e-6]


def test_a_grid_model_continues_a_waltz_in_4_4_bars_and_says_so(mel, shared_data, tmp_path):
    """mel_2bar writes 4/4 bars: a 3/4 tune's continuation carries a 4/4 meter change at its
    first new bar (the written file is whole bars in both meters) and a warning."""
    from runtime.midi_io import write_midi

    waltz = read_midi(shared_data / "nottingham" / "melody" / "ashover15.mid")
    assert waltz.time_signature == (3, 4)
    clip = waltz.slice(0.0, 12.0)                        # four 3/4 bars = three 4/4 bars
    out = mel.continue_(clip, bars=2, temperature=0.0)
    assert out.length == 20.0
    assert out.meter_changes == [(0.0, 3, 4), (12.0, 4, 4)]
    assert any("plays 4/4 bars" in w for w in mel.warnings)
    write_midi(out, tmp_path / "waltz.mid")
    back = read_midi(tmp_path / "waltz.mid")
    assert back.meter_changes[-1] == (12.0, 4, 4) and back.length == 20.0
    common = next(t for t in (read_midi(f) for f in sorted(
        (shared_data / "nottingham" / "melody").glob("*.mid")))
        if t.time_signature == (4, 4) and not t.meter_changes[1:])
    four = mel.continue_(common.slice(0.0, 8.0), bars=1, temperature=0.0)
    assert not any("plays 4/4" in w for w in mel.warnings) and not four.meter_changes[1:]
