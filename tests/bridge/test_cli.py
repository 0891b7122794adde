"""``python -m bridge`` as a user runs it: --help, bad flags, bad model, a real run and SIGTERM."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _bridge(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "bridge", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=60, **kwargs)


def test_help_and_bad_input_give_one_line():
    result = _bridge("--help")
    assert result.returncode == 0 and "--midi-out NAME" in result.stdout
    result = _bridge("--tempo", "fast")
    assert result.returncode == 2 and "invalid float value: 'fast'" in result.stderr
    result = _bridge("--tempo", "1000")
    assert result.returncode == 2 and result.stderr.strip() == (
        "python -m bridge: error: --tempo must be in 20..400 BPM (see --help)")
    result = _bridge("--model", "no_such_model", "--no-midi")   # a failure, not a usage error
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: no_such_model: no such model bundle")
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_long_model_name_gives_one_line():
    result = _bridge("--model", "m" * 300, "--no-midi")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1


@contextlib.contextmanager
def _serving(*args, listen, fresh_port=False):
    """``python -m bridge ARGS`` on a free port, yielded as ``(proc, port)`` once it answers
    /lb/ping (heard on ``listen``; sent from ``listen`` itself or, with ``fresh_port``, from a
    new port each time, as oscsend does); killed on the way out if still running."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "bridge", "--port", str(port), *args],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        listen.settimeout(0.2)
        deadline = time.monotonic() + 30
        while True:                                   # until the bridge answers
            if fresh_port:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as once:
                    once.sendto(_osc("/lb/ping"), ("127.0.0.1", port))
            else:
                listen.sendto(_osc("/lb/ping"), ("127.0.0.1", port))
            try:
                if OscMessage(listen.recv(65536)).address == "/lb/pong":
                    break
            except (socket.timeout, ConnectionRefusedError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()          # read stderr only once it ended: a live one blocks
                raise AssertionError(f"the bridge does not answer: {proc.communicate()[1]}")
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_reply_port_and_the_warning_for_other_interfaces():
    """``--reply-port`` hears the replies of unregistered clients whatever port a request came
    from (oscsend sends each message from a new one); ``--host 0.0.0.0`` works but says what
    it means."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listen:
        listen.bind(("127.0.0.1", 0))
        with _serving("--no-midi", "--host", "0.0.0.0", "--reply-port",
                      str(listen.getsockname()[1]), "--log-level", "warning", listen=listen,
                      fresh_port=True) as (proc, _):
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "Traceback" not in err
    assert "not only on this machine" in err


def _osc(address, *args):
    builder = OscMessageBuilder(address)
    for a in args:
        builder.add_arg(a)
    return builder.build().dgram


def test_cli_streams_and_silences_on_sigterm(jack, midi_receiver):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        with _serving("--midi-api", "jack", "--tempo", "240", "--log-level", "warning",
                      listen=sock) as (proc, port):
            receiver = midi_receiver()
            sock.sendto(_osc("/lb/stream", 1), ("127.0.0.1", port))
            time.sleep(1.5)
            assert receiver.notes_on(), "no notes streamed"
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    messages = [m for _, m in receiver.events]
    assert [0xB0, 123, 0] in messages                 # all notes off on exit
    sounding = {}
    for m in messages:                                # and no note is left hanging
        if m[0] & 0xF0 == 0x90 and m[2] > 0:
            sounding[(m[0] & 15, m[1])] = sounding.get((m[0] & 15, m[1]), 0) + 1
        elif m[0] & 0xF0 in (0x80, 0x90) and sounding.get((m[0] & 15, m[1])):
            sounding[(m[0] & 15, m[1])] -= 1
    assert not any(sounding.values())


def test_cli_missing_port_and_busy_osc_port(jack):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    result = _bridge("--midi-api", "jack", "--midi-out", "no such synth", "--port", port)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: no MIDI output port named 'no such synth'")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        result = _bridge("--no-midi", "--port", str(busy.getsockname()[1]))
    assert result.returncode == 1 and result.stderr.startswith("error: cannot listen on 127.0.0.1")


def test_cli_session_timeout_must_be_sane():
    result = _bridge("--session-timeout", "-1", "--no-midi")
    assert result.returncode == 2 and "--session-timeout must be in 0..86400" in result.stderr
