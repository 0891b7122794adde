"""One command-line style for every latentbridge command (render, prepare, train, evaluate,
export, plot, import, bridge).

    >>> from runtime.cli import Parser, fail, USAGE
    >>> parser = Parser(prog="python -m training.plot", description="Draw training curves.",
    ...                 examples=["python -m training.plot runs/mel -o mel.png"])
    >>> parser.add_argument("-o", "--out", default="curves.png", help="PNG file to write")
    >>> args = parser.parse_args(["-o", "x.png"])

The rules, so that a user (or a script) can rely on them everywhere:

- exit status 0: done; 2: a usage error (unknown flag, a value out of range: argparse's
  ``PROG: error: ... (see --help)`` or ``error: ...``); 1: a failure (a missing or broken file,
  data that does not fit, training that diverged); 128 + N: stopped by signal N;
- every error is ONE line on stderr, never a traceback or a usage dump;
- ``--help`` shows every default and ends with examples;
- the output flag is ``-o/--out`` (a file or folder, whichever the command writes).
"""

from __future__ import annotations

import argparse
import sys
import textwrap

#: exit status of a usage error (argparse's own) and of a failure
USAGE, FAILURE = 2, 1


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's and the examples' line breaks and adds ``(default: X)`` to every
    option whose help does not mention its default already (None and False are no default)."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if ("default" in text.lower() or default in (None, False, argparse.SUPPRESS)
                or (not action.option_strings and action.nargs not in ("?", "*"))):
            return text
        if isinstance(default, (list, tuple)):
            default = " ".join(map(str, default))
        return f"{text} (default: {default})"


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit 2), defaults in the help and an examples
    epilog: ``Parser(prog=..., description=..., examples=["cmd ...", ...])``."""

    def __init__(self, *args, examples=(), **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        if kwargs.get("description") and "\n" not in kwargs["description"]:
            kwargs["description"] = textwrap.fill(kwargs["description"], 88)   # raw text below
        if examples:
            lines = "examples:\n" + "\n".join(f"  {line}" for line in examples)
            kwargs["epilog"] = lines + ("\n\n" + kwargs["epilog"] if kwargs.get("epilog") else "")
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(USAGE, f"{self.prog}: error: {' '.join(message.split())} (see --help)\n")


def fail(message, code: int = FAILURE) -> int:
    """Print ``error: MESSAGE`` as one line on stderr; returns ``code`` for ``main`` to return."""
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    return code
