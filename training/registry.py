"""The registry of named training configs: what a config is, ``register`` and ``get_config``.

    >>> from training.registry import CONFIGS, Config, DataConfig, get_config, register
    >>> cfg = get_config("cat-mel_2bar_small")     # a fresh copy, safe to change
    >>> cfg.model.enc_rnn_size, cfg.model.dec_rnn_size, cfg.model.z_size
    ([512], [256, 256], 256)
    >>> cfg.override("model.z_size=64")
    >>> cfg.override("model.dec_rnn_size=[64,64]")  # JSON, or a comma list: 64,64
    >>> Config.from_dict(cfg.to_dict()) == cfg
    True
    >>> register(Config("my-mel_2bar", cfg.model, codec=dict(MELODY),
    ...                 data=DataConfig("data/mel_2bar", [-5, 5])))   # a name not taken yet

A config is a dataclass with four parts: ``model`` (its ``kind`` picks the class), ``codec`` (the
codec the dataset must use), ``data`` and ``train``; ``--set a.b=c`` on the command line goes
through :meth:`Config.override`. ``CONFIGS`` maps every registered name to its config; the named
configs live in three files that call :func:`register` (all imported with this module):
``training/configs.py`` (Magenta's MusicVAE configs under Magenta's names, and the ``lb-*`` ones
latentbridge ships), ``training/configs_papers.py`` (the other papers' models and the
baselines) and ``training/configs_groove.py`` (GrooVAE).
"""

from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from .models import ModelConfig, model_class


class ConfigError(ValueError):
    """A bad config name or override; the message is one line for the user."""


@dataclass
class DataConfig:
    #: default dataset folder (output of ``python -m training.prepare``); ``--data`` overrides
    path: str = ""
    #: random transposition in semitones [low, high] applied at load time to melodic parts,
    #: only when the shards are not transposed already (manifest ``augment``)
    transpose: list[int] = field(default_factory=lambda: [0, 0])


@dataclass
class TrainConfig:
    steps: int = 200_000
    batch_size: int = 512
    learning_rate: float = 1e-3
    min_learning_rate: float = 1e-5
    decay_rate: float = 0.9999
    grad_clip: float = 1.0
    #: skip the update when the gradient norm exceeds this (Magenta's grad_norm_clip_to_zero)
    grad_norm_clip_to_zero: float = 10_000.0
    seed: int = 0
    checkpoint_every: int = 500
    eval_every: int = 500
    eval_batches: int = 4
    #: write prior samples and a reconstruction as MIDI into RUN/samples/step_N every this many
    #: steps (-1: every eval_every steps; 0: never)
    sample_every: int = -1
    #: also a WAV beside each sample MIDI, when FluidSynth and a SoundFont are installed
    #: (false: MIDI only, no synthesizer started)
    sample_audio: bool = True
    #: abort after this many non-finite steps in a row
    max_bad_steps: int = 20
    #: torch threads per process (0 = torch's default)
    threads: int = 0
    device: str = "auto"
    #: start a new run from this checkpoint's weights (fine-tuning: on your own data, or with
    #: other loss settings); the optimizer, step count and schedules start afresh. The model's
    #: shapes and the codec must match; "" = from the seed
    init_from: str = ""
    #: modules that do not learn (``["encoder", "conductor", "decoders.0"]``: each and everything
    #: under it; batch norms among them keep their statistics too) during the first
    #: ``freeze_steps`` steps of the run (0: the whole run). A fine-tune or a transfer
    #: (``init_from``) first fits its new parts to what it keeps, instead of letting their large
    #: early gradients rewrite the rest
    freeze: list[str] = field(default_factory=list)
    freeze_steps: int = 0


@dataclass
class Config:
    name: str
    model: ModelConfig
    codec: dict[str, Any] = field(default_factory=dict)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Config":
        d = copy.deepcopy(d)
        model_cls = model_class(d["model"]["kind"]).config_class
        return cls(name=d["name"], model=_build(model_cls, d["model"], "model"),
                   codec=d.get("codec", {}), data=_build(DataConfig, d.get("data", {}), "data"),
                   train=_build(TrainConfig, d.get("train", {}), "train"),
                   description=d.get("description", ""))

    def override(self, assignment: str) -> None:
        """Apply one ``section.key=value`` (value parsed as JSON, else taken as a string)."""
        if "=" not in assignment:
            raise ConfigError(f"--set wants key=value, got {assignment!r}")
        key, raw = assignment.split("=", 1)
        path = key.strip().split(".")
        target: Any = self
        for part in path[:-1]:
            if part == "codec" and isinstance(getattr(target, part, None), dict):
                self.codec[path[-1]] = _parse(raw, self.codec.get(path[-1]))
                return
            if not dataclasses.is_dataclass(target) or not hasattr(target, part):
                raise ConfigError(f"unknown setting {key!r}")
            target = getattr(target, part)
        name = path[-1]
        if not dataclasses.is_dataclass(target) or name not in {f.name for f in dataclasses.fields(target)}:
            known = ", ".join(f.name for f in dataclasses.fields(target)) if dataclasses.is_dataclass(target) else ""
            raise ConfigError(f"unknown setting {key!r}" + (f" (known here: {known})" if known else ""))
        current = getattr(target, name)
        declared = {f.name: f.type for f in dataclasses.fields(target)}[name]
        if declared in (float, "float") and type(current) is int:   # e.g. sampling_rate=1000
            current = float(current)
        setattr(target, name, _parse(raw, current, key))


def _build(cls, values: dict[str, Any], section: str):
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown {section} setting(s): {', '.join(unknown)}")
    return cls(**values)


def _item(raw: str, number: bool) -> Any:
    """One element of a list setting: JSON (a number), else the bare name (unless a number is due)."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        if number:
            raise
        return raw.strip().strip("'\"")


def _parse(raw: str, current: Any, key: str = "") -> Any:
    """Value of ``raw`` shaped like ``current`` (int, float, bool, list of numbers, str)."""
    raw = raw.strip()
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    try:
        if isinstance(current, bool):
            if isinstance(value, str):
                value = {"true": True, "false": False, "1": True, "0": False}[value.lower()]
            return bool(value)
        if isinstance(current, int):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if isinstance(current, float):
            return float(value)  # float("nan") and "inf" work too
        if isinstance(current, list):
            if isinstance(value, (int, float)):
                value = [value]
            elif isinstance(value, str):   # 1,2 or [a,b]: numbers, else names
                value = [_item(v, bool(current) and not isinstance(current[0], str))
                         for v in value.strip("[]").split(",") if v.strip()]
            if not isinstance(value, list):
                raise ValueError
            return value
        if isinstance(current, str):
            return raw if not isinstance(value, str) else value
    except (ValueError, KeyError, TypeError, json.JSONDecodeError):
        raise ConfigError(f"bad value {raw!r} for {key or 'setting'} "
                          f"(expected {type(current).__name__})") from None
    return value


# -- the registry -----------------------------------------------------------------------------

#: every registered config by name (training/configs*.py fill it when this module is imported)
CONFIGS: dict[str, Config] = {}

#: the codec blocks of the MusicVAE configs (Magenta's melody range and grid)
MELODY = {"name": "melody", "min_pitch": 21, "max_pitch": 108, "steps_per_quarter": 4}
DRUMS = {"name": "drums", "steps_per_quarter": 4}
TRIO = {"name": "trio", "min_pitch": 21, "max_pitch": 108, "steps_per_quarter": 4}


def register(config: Config) -> Config:
    """Add ``config`` under its name (a name may be registered once); returns it."""
    if config.name in CONFIGS:
        raise ConfigError(f"config {config.name!r} is registered already")
    CONFIGS[config.name] = config
    return config


def get_config(name: str) -> Config:
    """A deep copy of the registered config ``name``."""
    if name not in CONFIGS:
        raise ConfigError(f"unknown config {name!r} (known: {', '.join(sorted(CONFIGS))})")
    return copy.deepcopy(CONFIGS[name])


# the named configs (each file imports what it needs from this module, defined above)
from . import configs, configs_groove, configs_papers  # noqa: E402,F401
