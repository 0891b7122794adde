"""runtime.fit.hearing: the reasons a shipped model does not hear some notes come from its codec
(each codec's `unplayable` and `overlap_reason`), and they add up to the notes not heard."""

import pytest

from runtime.engine import Engine
from runtime.fit import hearing
from runtime.music import Clip, Note


def _check(h):
    assert h.heard + sum(h.reasons.values()) == h.total, h
    return h.reasons


def test_drum_model_names_pitches_off_the_drum_map():
    kick, snare, off_map = (Note(36, b * 1.0, b + 0.25, is_drum=True) for b in range(4)), \
        (Note(38, b + 0.5, b + 0.75, is_drum=True) for b in range(4)), Note(20, 0.0, 0.25, is_drum=True)
    piece = Clip(list(kick) + list(snare) + [off_map, Note(36, 0.0, 0.25, is_drum=True)], length=8.0)
    reasons = _check(hearing(Engine.load("drums_2bar"), piece))
    assert reasons == {"not on the General MIDI drum map": 1,
                       "doubling a drum class on one 16th step": 1}


def test_trio_model_names_programs_without_a_part():
    notes = [Note(72, b, b + 1.0, program=0) for b in range(8)]          # melody
    notes += [Note(40, b, b + 2.0, program=33) for b in range(0, 8, 2)]  # bass
    notes += [Note(60, b, b + 1.0, program=48) for b in range(3)]        # strings: no part
    reasons = _check(hearing(Engine.load("trio_16bar"), Clip(notes, length=64.0)))
    assert reasons == {"on programs without a trio part: melody 0-31, bass 32-39, drums "
                       "channel 10": 3}


def test_note_event_model_names_its_window_and_drums():
    engine = Engine.load("notes_poly")
    notes = [Note(60 + b % 12, b * 0.25, b * 0.25 + 0.25) for b in range(engine.notes + 7)]
    notes += [Note(38, 0.0, 0.25, is_drum=True), Note(42, 0.5, 0.75, is_drum=True)]
    reasons = _check(hearing(engine, Clip(notes, length=float(engine.bars * 4))))
    assert reasons["drum notes, which notes_poly does not play"] == 2
    assert reasons[f"past the model's {engine.notes}-note window"] >= 7


@pytest.mark.parametrize("name", ["mel_2bar", "mel_16bar"])
def test_melody_model_names_drums_and_lower_voices(name):
    engine = Engine.load(name)
    chords = [Note(p, float(b), b + 1.0) for b in range(4) for p in (48, 55, 64)]
    piece = Clip(chords + [Note(38, 0.0, 0.25, is_drum=True)], length=8.0)
    reasons = _check(hearing(engine, piece))
    assert reasons == {f"drum notes, which {name} does not play": 1,
                       "under a higher voice or on the same 16th step": 8}
