"""The groove codec: Magenta's GrooveConverter layout, round trips on real Groove takes."""

import numpy as np
import pytest

from runtime.codecs import CodecError, codec_from_config
from runtime.codecs.drums import DRUM_CLASS_PITCHES
from runtime.codecs.groove import ROLAND_DRUM_PITCH_CLASSES, GrooveCodec
from runtime.midi_io import read_midi, write_midi
from runtime.music import Clip, Note
from runtime.quantize import to_steps


@pytest.fixture(scope="module")
def takes(shared_data):
    """Six real performances of the Groove MIDI Dataset (beats and fills, several styles)."""
    files = sorted((shared_data / "groove" / "drummer1" / "session1").glob("*.mid"))[:6]
    assert len(files) == 6
    return [read_midi(f) for f in files]


def played_cells(clip, codec, inference=False):
    """(step, class) -> the loudest note of that class nearest that step, as Magenta keeps it."""
    class_of = codec.class_of if inference else codec.data_class_of
    cells = {}
    for n in clip.notes:
        key = (to_steps(n.start, 4), class_of.get(n.pitch))
        if key[1] is not None and n.velocity > 0 and (key not in cells or
                                                      n.velocity > cells[key].velocity):
            cells[key] = n
    return cells


def test_layout_scaling_and_sign_follow_magenta():
    codec = GrooveCodec()
    assert (codec.input_depth, codec.output_depth, codec.num_classes) == (27, 27, 9)
    clip = Clip([Note(36, 0.025, 0.2, velocity=127, is_drum=True),     # 0.1 step late
                 Note(38, 0.95, 1.2, velocity=64, is_drum=True),       # 0.2 step early
                 Note(38, 1.0, 1.2, velocity=30, is_drum=True),        # same cell, softer: dropped
                 Note(40, 1.5, 1.6, velocity=90, is_drum=True),        # Roland snare rim
                 Note(99, 2.0, 2.1, velocity=90, is_drum=True)],       # not in the kit: ignored
                length=4.0, is_drum=True)
    tokens = codec.encode(clip)
    assert tokens.shape == (16, 27) and tokens.dtype == np.int64
    assert tokens[0, [0, 9, 18]].tolist() == [1, 127, -12]             # hits | velocities | offsets
    assert tokens[4, [1, 10, 19]].tolist() == [1, 64, 24]              # positive = ahead of the grid
    assert tokens[6, [1, 10, 19]].tolist() == [1, 90, 0]
    assert tokens[:, :9].sum() == 3
    out = codec.to_output(tokens)                                      # Magenta's tensor values
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0, [0, 9, 18]], [1.0, 1.0, -0.2])  # offset in steps x 2
    np.testing.assert_allclose(out[4, [1, 10, 19]], [1.0, 64 / 127, 0.4])
    np.testing.assert_array_equal(codec.from_output(out), tokens)
    decoded = codec.decode(tokens)
    assert [(n.pitch, n.start, n.velocity) for n in decoded.notes] == [
        (36, pytest.approx(0.025), 127), (38, pytest.approx(0.95), 64), (38, 1.5, 90)]
    assert all(n.is_drum and n.end - n.start == 0.25 for n in decoded.notes)


def test_input_transforms_humanize_and_tap():
    clip = Clip([Note(36, 0.02, 0.2, velocity=100, is_drum=True),
                 Note(42, 0.0, 0.2, velocity=60, is_drum=True),
                 Note(38, 1.05, 1.2, velocity=80, is_drum=True)], length=4.0, is_drum=True)
    tokens = GrooveCodec().encode(clip)
    humanize = GrooveCodec(input_transform="humanize").to_input(tokens)
    np.testing.assert_array_equal(humanize[:, :9], tokens[:, :9])      # hits stay
    assert not humanize[:, 9:].any()                                   # flat, quantized
    tap = GrooveCodec(input_transform="tap").to_input(tokens)
    assert tap[:, :9].sum() == 2 and tap[[0, 4], 3].tolist() == [1, 1]  # one tap per step
    assert not tap[:, 9:18].any()                                      # velocity flattened
    # the tap keeps the timing of the loudest hit of the step (the kick, 0.08 step late)
    np.testing.assert_allclose(tap[[0, 4], 21], [-0.16, -0.4], atol=1 / 60)
    # the batch axis works the same way
    batch = GrooveCodec(input_transform="tap").to_input(np.stack([tokens, tokens]))
    np.testing.assert_array_equal(batch[1], tap)
    # any instrument becomes taps
    line = Clip([Note(60, 0.0, 1.0, velocity=70), Note(67, 0.5, 1.0, velocity=90, program=24)],
                length=4.0)
    taps = GrooveCodec(input_transform="tap").as_taps(line)
    coded = GrooveCodec().encode(taps, inference=True)
    assert coded[:, 3].tolist()[:3] == [1, 0, 1] and coded[:, :9].sum() == 2


def test_round_trip_on_real_groove_takes(takes, tmp_path):
    """encode -> decode: every kept hit comes back in its class, at its played time within half
    an offset unit (1/240 step) and with its velocity; read back it gives the same tokens."""
    codec = GrooveCodec()
    tolerance = 0.5 / codec.offset_units / codec.steps_per_quarter + 1e-9   # in beats
    total = 0
    for clip in takes:
        tokens = codec.encode(clip)
        decoded = codec.decode(tokens)
        cells = {k: n for k, n in played_cells(clip, codec).items() if k[0] < len(tokens)}
        back = {(to_steps(n.start, 4), codec.class_of[n.pitch]): n for n in decoded.notes}
        assert len(decoded.notes) == len(back) == len(cells) == int(tokens[:, :9].sum())
        for key, note in cells.items():
            got = back[key]
            assert got.velocity == note.velocity
            assert abs(got.start - note.start) <= tolerance, (key, got.start, note.start)
        np.testing.assert_array_equal(codec.encode(decoded, inference=True), tokens)
        total += len(cells)
        # and through a MIDI file (480 ticks per beat: offsets are whole ticks)
        write_midi(decoded, tmp_path / "take.mid")
        again = read_midi(tmp_path / "take.mid")
        np.testing.assert_array_equal(codec.encode_notes(again.notes, len(tokens), inference=True),
                                      tokens)
    assert total > 1000


def test_two_kits_training_and_inference():
    """Groove's Roland kit for the data, the General MIDI table (the drums codec's) for clips."""
    codec = GrooveCodec()
    assert codec.pitch_classes == ROLAND_DRUM_PITCH_CLASSES
    assert codec.inference_pitch_classes == DRUM_CLASS_PITCHES
    # Roland's tom 2 (45) is a mid tom, tom 1 (48) a high tom; in General MIDI a low and a mid tom
    assert (codec.data_class_of[45], codec.data_class_of[48]) == (5, 6)
    assert (codec.class_of[45], codec.class_of[48]) == (4, 5)
    gm_only = Clip([Note(35, 0.0, 0.2, is_drum=True)], length=4.0, is_drum=True)  # GM kick 2
    assert codec.encode(gm_only).sum() == 0 and codec.encode(gm_only, inference=True)[0, 0] == 1


def test_config_round_trip_and_token_config():
    codec = GrooveCodec(input_transform="tap")
    assert codec_from_config(codec.config()) == codec
    assert codec.token_config() == GrooveCodec().token_config()
    assert codec.config() != GrooveCodec().config()
    custom = GrooveCodec(pitch_classes=[[36], [38], [42]], inference_pitch_classes=[[35], [40], [44]],
                         tap_class=1)
    again = codec_from_config(custom.config())
    assert again == custom and again.output_depth == 9


def test_rejects_bad_input():
    codec = GrooveCodec()
    with pytest.raises(CodecError, match="4/4"):
        codec.encode(Clip([Note(36, 0, 0.25, is_drum=True)], length=3.0, time_signature=(3, 4)))
    with pytest.raises(CodecError, match="input_transform"):
        GrooveCodec(input_transform="swing")
    with pytest.raises(CodecError, match="shape"):
        codec.decode(np.zeros((16, 9), np.int64))
    bad = np.zeros((16, 27), np.int64)
    bad[0, 18] = 61
    with pytest.raises(CodecError, match="out of range"):
        codec.decode(bad)
    with pytest.raises(CodecError, match="tap_class"):
        GrooveCodec(tap_class=9)
