"""The worker's streamed modes are the engine's calls: a vary bar is ``Engine.vary`` of slot A."""

from __future__ import annotations

from bridge.clock import Clock
from bridge.midi import NoOutput
from bridge.scheduler import Scheduler
from bridge.session import Params, Session
from bridge.sessions import Sessions
from bridge.worker import Worker
from runtime.midi_io import read_midi


def test_vary_mode_plays_engine_vary_of_slot_a(engine, shared_data):
    tune = sorted((shared_data / "nottingham" / "melody").glob("*.mid"))[0]
    clip = read_midi(tune).slice(0.0, engine.length_beats)
    clock = Clock(tempo=120.0)
    worker = Worker(Sessions(engine), clock, Scheduler(clock, NoOutput()), emit=lambda *a: None)
    session = Session(engine=engine)
    worker.encode_slot(session, "A", clip)                 # slot A keeps the clip's code
    params = Params(mode="vary", amount=0.4, temperature=0.7)
    for seed in (3, 11):
        played = worker.generate(session, params, seed)
        expected = engine.vary(clip, 1, amount=0.4, temperature=0.7, seed=seed)[0]
        assert played.notes == expected.notes and played.notes
    assert worker.generate(session, params, 3).notes != worker.generate(session, params, 11).notes
