"""One command-line style (runtime/cli.py) for prepare, train, evaluate, export, plot and the
bridge: --help shows defaults and examples, a usage error is one ``PROG: error: ... (see --help)``
line and exit 2, a failure one ``error: ...`` line and exit 1, output goes to ``-o/--out``.
Another command joins by adding one row to CLIS."""

import argparse
import importlib
import re

import pytest

from runtime.cli import HelpFormatter, Parser

# module, a bad flag value (usage error), a missing input (failure; {tmp} = a temp folder)
CLIS = {
    "training.prepare": (["x", "-o", "{tmp}/out", "--bars", "0"],
                         ["{tmp}/missing", "-o", "{tmp}/out"]),
    "training.train": (["lb-mel_2bar", "-o", "{tmp}/run", "--steps", "0"],
                       ["lb-mel_2bar", "--data", "{tmp}/missing", "-o", "{tmp}/run"]),
    "training.evaluate": (["{tmp}/run", "--data", "{tmp}/d", "--batch-size", "0"],
                          ["{tmp}/missing.pt", "--data", "{tmp}/missing"]),
    "training.export": (["{tmp}/run", "-o", "{tmp}/b", "--eval-windows", "0"],
                        ["{tmp}/missing.pt", "-o", "{tmp}/bundle"]),
    "training.plot": (["{tmp}/run", "-o", "{tmp}/curves.jpg"],
                      ["{tmp}/missing", "-o", "{tmp}/curves.png"]),
    "bridge.__main__": (["--tempo", "1000", "--no-midi"],
                        ["--model", "no_such_model", "--no-midi"]),
    "training.import_magenta": (["mel_2bar_small", "{tmp}/a", "-o", "{tmp}/b"],
                                ["{tmp}/missing", "-o", "{tmp}/bundle"]),
    "training.unbundle": (["{tmp}/b", "-o", "{tmp}/x.pt", "--bogus"],
                          ["{tmp}/missing", "-o", "{tmp}/x.pt"]),
    "runtime.render": (["sample", "--temperature", "-1", "-o", "{tmp}/x.mid"],
                       ["reconstruct", "{tmp}/missing.mid", "-o", "{tmp}/out"]),
}


def _run(main, argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("module", sorted(CLIS))
def test_one_style_for_every_command(module, tmp_path, capsys):
    cli = importlib.import_module(module)
    parser = cli.build_parser()
    prog = parser.prog
    assert isinstance(parser, Parser) and parser.formatter_class is HelpFormatter

    code, out, err = _run(cli.main, ["--help"], capsys)
    assert code == 0 and err == ""
    assert "examples:\n  python -m " in out and "default" in out
    parsers = [parser] + [sub for action in parser._actions   # and its subcommands' (render)
                          if isinstance(action, argparse._SubParsersAction)
                          for sub in action.choices.values()]
    options = {s for p in parsers for action in p._actions for s in action.option_strings}
    if module != "bridge.__main__":   # the bridge writes no file
        assert {"-o", "--out"} <= options

    # an unknown flag and a bad value: usage errors, one line, exit 2
    usage_error = re.compile(rf"^{re.escape(prog)}: error: .+ \(see --help\)\n$")
    code, out, err = _run(cli.main, ["--no-such-flag"], capsys)
    assert code == 2 and usage_error.match(err), err
    bad_value, missing = CLIS[module]
    code, out, err = _run(cli.main, [a.format(tmp=tmp_path) for a in bad_value], capsys)
    assert code == 2 and usage_error.match(err), err

    # a missing input: a failure, one line, exit 1, nothing written
    code, out, err = _run(cli.main, [a.format(tmp=tmp_path) for a in missing], capsys)
    assert code == 1 and re.match(r"^error: \S.*\n$", err) and "Traceback" not in err, err
    assert not [p for p in tmp_path.iterdir()]


def test_help_adds_every_default_once():
    parser = Parser(prog="demo", examples=["demo -n 3"])
    parser.add_argument("-n", type=int, default=2, help="how many")
    parser.add_argument("--rate", type=float, default=0.5, help="how fast (default 0.5)")
    parser.add_argument("--name", help="no default")
    parser.add_argument("--range", type=int, nargs=2, default=(0, 0), help="low and high")
    text = " ".join(parser.format_help().split())
    assert "how many (default: 2)" in text and text.count("default 0.5") == 1
    assert "no default (default" not in text and "low and high (default: 0 0)" in text
    assert text.endswith("examples: demo -n 3")
