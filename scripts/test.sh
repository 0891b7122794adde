#!/usr/bin/env bash
# Install everything the test suite needs (jackd2, nodejs, npm, fluidsynth and a GM SoundFont
# from apt, a venv with the train+dev extras)
# and run it. Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v jackd >/dev/null 2>&1; then
    echo "== installing jackd2 (real MIDI ports for the bridge tests)"
    as_root apt-get update -q
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q --no-install-recommends jackd2
fi
# Both: Debian's nodejs package comes without npm, which the magenta.js parity tests need.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "== installing node and npm (Max for Live JS and magenta.js parity tests)"
    as_root apt-get update -q
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q --no-install-recommends nodejs npm
fi

# FluidSynth and a small General MIDI SoundFont: `runtime.render --wav` (the audio tests).
if ! command -v fluidsynth >/dev/null 2>&1 || [ ! -e /usr/share/sounds/sf2/TimGM6mb.sf2 ]; then
    echo "== installing fluidsynth and timgm6mb-soundfont (runtime.render --wav)"
    as_root apt-get update -q
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q --no-install-recommends \
        fluidsynth timgm6mb-soundfont
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch 2.13.0 (CPU) is pinned in the train extra; onnxruntime comes from the base install.
.venv/bin/python -m pip install -q -e ".[train,dev]"

echo "== running the tests"
exec .venv/bin/python -m pytest "$@"
