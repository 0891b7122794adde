"""The default settings of each tool, in one place.

The engine's keyword defaults (``Engine.vary(amount=...)``), ``python -m runtime.render``'s flags,
the bridge's settings per mode (``bridge.session``) and the device's knobs all come from (or are
tested against) this table, so a tool sounds the same from every door::

    >>> from runtime.defaults import TOOL_DEFAULTS, default
    >>> default("vary", "amount")
    0.3
    >>> TOOL_DEFAULTS["sample"]["temperature"], TOOL_DEFAULTS["continue"]
    (1.0, {'temperature': 0.5, 'bars': 2})

Why these values (docs/render.md, Defaults):

- ``temperature`` 1.0 for ``sample``: the model's own distribution, as Magenta Studio's Generate
  (every Magenta Studio tool starts its Temperature slider at 1, range 0..2);
- ``temperature`` 0.5 for the tools that start from the musician's clip (interpolate,
  reconstruct, vary, continue, groove, drumify): MusicVAE's own ``music_vae_generate.py``
  decodes at 0.5; on mel_2bar's test split a reconstruction keeps 0.88 of the input's note
  onsets (F1) at 0.5 against 0.90 at 0 and 0.81 at 1.0 (drums_2bar 0.73 / 0.75 / 0.67), so 0.5
  stays with the clip without the argmax's sameness;
- ``amount`` 0.3 for ``vary``: at 0.3 a variation keeps 0.28 of a melody's onsets and 0.65 of
  a beat's (at 0.5: 0.14 and 0.53; an unrelated sample: 0.03 and 0.28), a variation one
  still recognises;
- ``steps`` 5 for ``interpolate`` (ends included, as MusicVAE's script) and ``bars`` 2 for
  ``continue`` (Magenta Studio's Continue length).
"""

from __future__ import annotations

#: tool -> setting -> default value (the tools of DESIGN.md, and render's reconstruct)
TOOL_DEFAULTS: dict[str, dict[str, float | int]] = {
    "sample": {"temperature": 1.0},
    "interpolate": {"temperature": 0.5, "steps": 5},
    "reconstruct": {"temperature": 0.5},
    "vary": {"temperature": 0.5, "amount": 0.3},
    "continue": {"temperature": 0.5, "bars": 2},
    "groove": {"temperature": 0.5},
    "drumify": {"temperature": 0.5},
}


def default(tool: str, setting: str):
    """The default ``setting`` of ``tool`` (KeyError naming both if there is none)."""
    try:
        return TOOL_DEFAULTS[tool][setting]
    except KeyError:
        raise KeyError(f"no default {setting!r} for tool {tool!r}") from None
