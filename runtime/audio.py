"""Hear a clip: MIDI to WAV with FluidSynth and a General MIDI SoundFont.

    >>> from runtime.audio import AudioError, find_synth
    >>> synth = find_synth()                    # AudioError with what to install if missing
    >>> synth.render("tune.mid", "tune.wav")    # 44.1 kHz 16-bit stereo, written atomically
    >>> synth.render_clip(clip, "clip.wav")     # a Clip: through a temporary .mid

The synthesizer is FluidSynth's command-line program (maintained, LGPL, in every Linux
distribution, Homebrew and Chocolatey) with any General MIDI SoundFont; nothing is imported and
nothing is downloaded, so the runtime stays light. On Debian and Ubuntu:
``apt install fluidsynth timgm6mb-soundfont`` (a 6 MB GM SoundFont; ``fluid-soundfont-gm`` is a
fuller 140 MB one). The SoundFont is, in order: the ``soundfont`` argument, the
``LATENTBRIDGE_SOUNDFONT`` environment variable, then the usual places (:data:`SOUNDFONT_PLACES`).

The WAV lasts exactly as long as the MIDI file (its end-of-track: a clip's whole bars) plus
:data:`TAIL_SECONDS` for the last notes to ring out.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np

from .files import atomic_path

SOUNDFONT_ENV = "LATENTBRIDGE_SOUNDFONT"
#: where distributions put a General MIDI SoundFont (Debian's alternatives link comes first)
SOUNDFONT_PLACES = (
    "/usr/share/sounds/sf2/default-GM.sf2",       # Debian, Ubuntu (any GM SoundFont package)
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/soundfonts/default.sf2",          # Fedora, Arch
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/local/share/soundfonts/default.sf2",
    "/opt/homebrew/share/soundfonts/default.sf2",
)
INSTALL = "apt install fluidsynth timgm6mb-soundfont (macOS: brew install fluid-synth)"
#: seconds of release after the file's end
TAIL_SECONDS = 1.0
SAMPLE_RATE = 44100
#: FluidSynth's master gain (its default 0.2 leaves a GM piano near -30 dBFS)
GAIN = 1.0


class AudioError(Exception):
    """No synthesizer or SoundFont, or a render that failed; one line for the user."""


def is_soundfont(path) -> bool:
    """Whether ``path`` starts like a SoundFont 2 file (RIFF ... sfbk)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
    except OSError:
        return False
    return head[:4] == b"RIFF" and head[8:12] == b"sfbk"


def find_soundfont(soundfont=None) -> Path:
    """The SoundFont to use (see the module's docstring); AudioError if there is none."""
    given = soundfont or os.environ.get(SOUNDFONT_ENV)
    if given:
        where = "" if soundfont else f" ({SOUNDFONT_ENV})"
        if not os.path.isfile(given):
            raise AudioError(f"{given}{where}: no such SoundFont file")
        if not is_soundfont(given):
            raise AudioError(f"{given}{where}: not a SoundFont (.sf2) file")
        return Path(given)
    for place in SOUNDFONT_PLACES:
        if is_soundfont(place):
            return Path(place)
    raise AudioError(f"--wav needs a General MIDI SoundFont: {INSTALL}, or --soundfont FILE.sf2")


def find_synth(soundfont=None) -> "Synth":
    """FluidSynth and a SoundFont, or AudioError naming what to install."""
    program = shutil.which("fluidsynth")
    if program is None:
        raise AudioError(f"--wav needs the FluidSynth synthesizer, not found on PATH: {INSTALL}")
    return Synth(program, find_soundfont(soundfont))


@dataclass(frozen=True)
class Synth:
    """FluidSynth's program and the SoundFont it plays."""

    program: str
    soundfont: Path
    sample_rate: int = SAMPLE_RATE
    gain: float = GAIN

    def render(self, midi_path, wav_path) -> Path:
        """``midi_path`` as a WAV file at ``wav_path`` (atomic, with the user's umask)."""
        seconds = mido.MidiFile(midi_path).length
        with tempfile.TemporaryDirectory(prefix="latentbridge-wav-") as work:
            raw = Path(work) / "raw.wav"
            command = [self.program, "-ni", "-q", "-g", str(self.gain), "-r", str(self.sample_rate),
                       "-T", "wav", "-O", "s16", "-F", str(raw), str(self.soundfont), str(midi_path)]
            try:
                proc = subprocess.run(command, capture_output=True, text=True,
                                      timeout=60 + 2 * seconds, stdin=subprocess.DEVNULL)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise AudioError(f"{wav_path}: fluidsynth failed ({exc})") from None
            problems = [line for line in (proc.stderr + proc.stdout).splitlines()
                        if "error" in line.lower()]
            if proc.returncode != 0 or problems or not raw.is_file():
                reason = (problems or proc.stderr.strip().splitlines() or
                          [f"exit status {proc.returncode}"])[0]
                raise AudioError(f"{wav_path}: fluidsynth failed ({reason.strip()})")
            with wave.open(str(raw), "rb") as source:
                params = source.getparams()
                frames = source.readframes(source.getnframes())
        keep = int(round((seconds + TAIL_SECONDS) * params.framerate)) * params.nchannels
        samples = np.zeros(keep, np.int16)     # silence past what FluidSynth rendered
        played = np.frombuffer(frames, np.int16)[:keep]
        samples[:len(played)] = played
        with atomic_path(wav_path) as tmp:
            with wave.open(str(tmp), "wb") as out:
                out.setnchannels(params.nchannels)
                out.setsampwidth(params.sampwidth)
                out.setframerate(params.framerate)
                out.writeframes(samples.tobytes())
        return Path(wav_path)

    def render_clip(self, clip, wav_path, name: str | None = None) -> Path:
        """A :class:`~runtime.music.Clip` as a WAV file, through a temporary MIDI file."""
        from .midi_io import write_midi

        with tempfile.TemporaryDirectory(prefix="latentbridge-wav-") as work:
            midi = Path(work) / "clip.mid"
            write_midi(clip, midi, name=name)
            return self.render(midi, wav_path)
