"""``python -m bridge``: the real-time OSC + MIDI bridge between the DAW and a model.

    $ python -m bridge                                # mel_2bar, 127.0.0.1:9000, virtual ports
    $ python -m bridge --model drums_2bar --tempo 96
    $ python -m bridge --midi-out "loopMIDI Port"     # Windows: an existing port instead
    $ python -m bridge --no-midi --port 9100          # OSC only (Ableton plays the /lb/bar notes)

Runs until Ctrl-C / SIGTERM; on the way out every sounding note is switched off.
"""

from __future__ import annotations

import gc
import logging
import signal
import sys
import threading

from runtime.cli import Parser, fail

from .clock import MAX_TEMPO, MIN_TEMPO

LOG_LEVELS = ("debug", "info", "warning", "error")


def build_parser() -> Parser:
    p = Parser(prog="python -m bridge",
               description="The real-time OSC + MIDI bridge between the DAW and a model; runs "
                           "until Ctrl-C or SIGTERM.",
               examples=["python -m bridge                                # mel_2bar, "
                         "127.0.0.1:9000, virtual ports",
                         "python -m bridge --model drums_2bar --tempo 96",
                         'python -m bridge --midi-out "loopMIDI Port"     # Windows: an existing '
                         "port",
                         "python -m bridge --no-midi --port 9100          # OSC only"],
               epilog="OSC protocol: docs/osc.md. Design and timing: docs/bridge.md.")
    p.add_argument("--host", default="127.0.0.1",
                   help="interface to listen on (default 127.0.0.1; another one, e.g. 0.0.0.0, "
                        "lets other machines control the bridge: a warning is logged)")
    p.add_argument("--port", type=int, default=9000, help="OSC port to listen on (default 9000)")
    p.add_argument("--reply-port", type=int, default=None,
                   help="send the replies and streamed bars of the clients that never said "
                        "/lb/hello to this port on this machine, whatever port a request came "
                        "from (default: none)")
    p.add_argument("--session-timeout", type=float, default=30.0, metavar="SECONDS",
                   help="drop a device registered with /lb/hello that sends nothing for this "
                        "long, and end its notes (default 30; 0 = never)")
    p.add_argument("--model", default=None,
                   help="shipped model name or bundle folder (default: the embedded mel_2bar)")
    p.add_argument("--midi-out", metavar="NAME", default=None,
                   help="existing MIDI output port (part of its name) instead of the virtual "
                        "'latentbridge out'")
    p.add_argument("--midi-in", metavar="NAME", default=None,
                   help="existing MIDI input port (clock, notes to record) instead of the "
                        "virtual 'latentbridge in'")
    p.add_argument("--no-virtual", action="store_true",
                   help="never create virtual ports (use the named or first existing ones)")
    p.add_argument("--no-midi", action="store_true", help="no MIDI ports at all (OSC only)")
    p.add_argument("--midi-api", default="auto", choices=("auto", "alsa", "jack", "coremidi",
                                                          "winmm"),
                   help="MIDI system (default: rtmidi's choice)")
    p.add_argument("--tempo", type=float, default=120.0,
                   help="tempo of the internal clock when no master is heard (default 120)")
    p.add_argument("--ahead", type=int, default=2,
                   help="bars kept generated beyond the playhead (default 2)")
    p.add_argument("--chunk", type=int, default=2,
                   help="bars used from each generated clip (default 2); a parameter change "
                        "is heard after at most ahead + chunk bars: --chunk 1 --ahead 1 "
                        "steers bar by bar")
    p.add_argument("--sender", default="process", choices=("process", "thread"),
                   help="send MIDI from a child process with its own GIL (default) or from a "
                        "thread of this one")
    p.add_argument("--no-realtime", action="store_true",
                   help="do not ask the OS for real-time (SCHED_FIFO) priority for the sender")
    p.add_argument("--log-level", default="info", choices=LOG_LEVELS, help="what the log shows")
    return p


def main(argv: list[str] | None = None) -> int:
    """Exit status 2 for a bad flag or value, 1 when the model or a port cannot be opened."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 1 <= args.port <= 65535 or (args.reply_port is not None
                                       and not 1 <= args.reply_port <= 65535):
        parser.error("ports must be in 1..65535")
    if not MIN_TEMPO <= args.tempo <= MAX_TEMPO:
        parser.error(f"--tempo must be in {MIN_TEMPO:g}..{MAX_TEMPO:g} BPM")
    if args.ahead < 1 or args.chunk < 1:
        parser.error("--ahead and --chunk must be at least 1")
    if not 0 <= args.session_timeout <= 86400:
        parser.error("--session-timeout must be in 0..86400 seconds")
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from runtime.engine import Engine, EngineError

    from .app import Bridge
    from .midi import MidiPortError

    try:
        engine = Engine.load(args.model, threads=1)
    except EngineError as exc:
        return fail(exc)
    try:
        bridge = Bridge(engine, host=args.host, port=args.port, tempo=args.tempo,
                        midi=not args.no_midi, midi_out=args.midi_out, midi_in=args.midi_in,
                        virtual=not args.no_virtual, midi_api=args.midi_api, ahead=args.ahead,
                        chunk=args.chunk, sender=args.sender, realtime=not args.no_realtime,
                        reply_port=args.reply_port, session_timeout_s=args.session_timeout)
    except MidiPortError as exc:
        return fail(exc)
    except OSError as exc:
        return fail(f"cannot listen on {args.host}:{args.port} ({exc.strerror or exc})")
    tune_for_realtime()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with bridge:     # serving until Ctrl-C / SIGTERM; all notes off on the way out
        while not stop.wait(0.5):
            pass
    return 0


def tune_for_realtime() -> None:
    """Make the sender thread's worst case short: it gets the GIL back within 0.5 ms of asking,
    and the objects alive after start-up are never scanned by the garbage collector again."""
    sys.setswitchinterval(0.0005)
    gc.collect()
    gc.freeze()


if __name__ == "__main__":
    sys.exit(main())
