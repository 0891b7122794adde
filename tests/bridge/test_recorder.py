"""The recorder of what the musician plays (follow mode's calls, /lb/record) on a real clock."""

from bridge.clock import Clock
from bridge.midi import Recorder


def test_a_loop_going_back_forgets_what_the_earlier_pass_played():
    """Live loops bars 1-2: the second pass over bar 1 must not hold the first pass's notes,
    or follow mode would answer both passes at once."""
    clock = Clock(tempo=120.0)                 # a beat every 0.5 s
    recorder = Recorder(clock)
    t0 = 100.0
    clock.transport(True, 0.0, 120.0, 4, 4, now=t0)
    for pitch, beat in ((60, 1.0), (64, 5.0), (67, 6.0)):
        recorder.note_on(pitch, 90, now=t0 + beat / 2)
        recorder.note_off(pitch, now=t0 + beat / 2 + 0.25)
    assert [n.pitch for n in recorder.between(0.0, 8.0, now=t0 + 4.0).notes] == [60, 64, 67]
    # the loop brace sends the playhead back to beat 4 (the device reports the jump)
    t1 = t0 + 4.0
    clock.transport(True, 4.0, 120.0, 4, 4, now=t1)
    assert [n.pitch for n in recorder.between(0.0, 8.0, now=t1).notes] == [60]
    recorder.note_on(62, 90, now=t1 + 0.5)        # pass two plays beat 5 again
    recorder.note_off(62, now=t1 + 0.75)
    call = recorder.between(4.0, 8.0, now=t1 + 2.0)
    assert [(n.pitch, n.start) for n in call.notes] == [(62, 1.0)]
    # a note held across the end of the window is cut there; one still held, at `now`
    recorder.note_on(65, 90, now=t1 + 1.5)        # beat 7
    held = recorder.between(4.0, 8.0, now=t1 + 1.75).notes[-1]
    assert (held.pitch, held.start, held.end) == (65, 3.0, 3.5)
