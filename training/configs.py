"""The one registry of named training configs (Magenta's names and sizes, plus small CPU ones).

A config is a dataclass with four parts: ``model`` (its ``kind`` picks the class), ``codec`` (the
codec the dataset must use), ``data`` and ``train``. ``--set a.b=c`` on the command line goes
through :meth:`Config.override`::

    >>> from training.configs import CONFIGS, get_config
    >>> cfg = get_config("cat-mel_2bar_small")     # a fresh copy, safe to change
    >>> cfg.model.enc_rnn_size, cfg.model.dec_rnn_size, cfg.model.z_size
    ([512], [256, 256], 256)
    >>> cfg.override("model.z_size=64")
    >>> cfg.override("model.dec_rnn_size=[64,64]")  # JSON, or a comma list: 64,64
    >>> Config.from_dict(cfg.to_dict()) == cfg
    True

Magenta's originals (magenta/models/music_vae/configs.py) keep their names; ``lb-*`` are the
small models latentbridge ships, sized to train in minutes on a laptop CPU.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from .models import ModelConfig, model_class
from .models.musicvae import MusicVAEConfig


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
    #: abort after this many non-finite steps in a row
    max_bad_steps: int = 20
    #: torch threads per process (0 = torch's default)
    threads: int = 0
    device: str = "auto"


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
        setattr(target, name, _parse(raw, getattr(target, name), key))


def _build(cls, values: dict[str, Any], section: str):
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown {section} setting(s): {', '.join(unknown)}")
    return cls(**values)


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
            elif isinstance(value, str):
                value = [json.loads(v) for v in value.split(",") if v.strip()]
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

MELODY = {"name": "melody", "min_pitch": 21, "max_pitch": 108, "steps_per_quarter": 4}
DRUMS = {"name": "drums", "steps_per_quarter": 4}
TRIO = {"name": "trio", "min_pitch": 21, "max_pitch": 108, "steps_per_quarter": 4}

CONFIGS: dict[str, Config] = {}


def _add(config: Config) -> None:
    CONFIGS[config.name] = config


def get_config(name: str) -> Config:
    """A deep copy of the registered config ``name``."""
    if name not in CONFIGS:
        raise ConfigError(f"unknown config {name!r} (known: {', '.join(sorted(CONFIGS))})")
    return copy.deepcopy(CONFIGS[name])


def _mvae(**kw) -> MusicVAEConfig:
    return MusicVAEConfig(kind="musicvae", **kw)


# Melody, 2 bars (Magenta: transpose_range=(-5, 5), inverse sigmoid scheduled sampling k=1000)
_add(Config("cat-mel_2bar_small", _mvae(
    max_seq_len=32, z_size=256, enc_rnn_size=[512], dec_rnn_size=[256, 256], free_bits=0,
    max_beta=0.2, beta_rate=0.99999, sampling_schedule="inverse_sigmoid", sampling_rate=1000),
    codec=dict(MELODY), data=DataConfig("data/mel_2bar", [-5, 5]),
    description="Magenta cat-mel_2bar_small: 2-bar melody, 1x512 bi-LSTM encoder, 2x256 decoder"))
_add(Config("cat-mel_2bar_big", _mvae(
    max_seq_len=32, z_size=512, enc_rnn_size=[2048], dec_rnn_size=[2048, 2048, 2048], free_bits=0,
    max_beta=0.5, beta_rate=0.99999, sampling_schedule="inverse_sigmoid", sampling_rate=1000),
    codec=dict(MELODY), data=DataConfig("data/mel_2bar", [-5, 5]),
    description="Magenta cat-mel_2bar_big: 2-bar melody, 1x2048 encoder, 3x2048 decoder"))

# Drums, 2 bars (roll input, 512-way output; beta_rate stays Magenta's default 0)
_add(Config("cat-drums_2bar_small", _mvae(
    max_seq_len=32, z_size=256, enc_rnn_size=[512], dec_rnn_size=[256, 256], free_bits=48,
    max_beta=0.2, sampling_schedule="inverse_sigmoid", sampling_rate=1000),
    codec=dict(DRUMS), data=DataConfig("data/drums_2bar"),
    description="Magenta cat-drums_2bar_small: 2-bar drums, 9-class roll in, 512 classes out"))
_add(Config("cat-drums_2bar_big", _mvae(
    max_seq_len=32, z_size=512, enc_rnn_size=[2048], dec_rnn_size=[2048, 2048, 2048],
    free_bits=48, max_beta=0.2, sampling_schedule="inverse_sigmoid", sampling_rate=1000),
    codec=dict(DRUMS), data=DataConfig("data/drums_2bar"),
    description="Magenta cat-drums_2bar_big"))

# Hierarchical, 16 bars (conductor over bars, no autoregression between bars at the top)
_add(Config("hierdec-mel_16bar", _mvae(
    max_seq_len=256, level_lengths=[16, 16], z_size=512, enc_rnn_size=[2048, 2048],
    dec_rnn_size=[1024, 1024], free_bits=256, max_beta=0.2),
    codec=dict(MELODY), data=DataConfig("data/mel_16bar"),
    description="Magenta hierdec-mel_16bar: 16 bars, conductor 2x1024, bar decoder 2x1024"))
_add(Config("hierdec-trio_16bar", _mvae(
    max_seq_len=256, level_lengths=[16, 16], split_decoders=True, z_size=512,
    enc_rnn_size=[2048, 2048], dec_rnn_size=[1024, 1024], free_bits=256, max_beta=0.2),
    codec=dict(TRIO), data=DataConfig("data/trio_16bar"),
    train=TrainConfig(batch_size=256),
    description="Magenta hierdec-trio_16bar: melody, bass, drums decoders under one conductor"))
# Hierarchical encoder too (Magenta's hier-*: one bidirectional 1024 layer per level)
_add(Config("hier-mel_16bar", _mvae(
    max_seq_len=256, level_lengths=[16, 16], enc_level_lengths=[16, 16], z_size=512,
    enc_rnn_size=[1024, 1024], dec_rnn_size=[1024, 1024], free_bits=256, max_beta=0.2),
    codec=dict(MELODY), data=DataConfig("data/mel_16bar"),
    description="Magenta hier-mel_16bar: bar encoder + bar-sequence encoder, conductor decoder"))
_add(Config("hier-trio_16bar", _mvae(
    max_seq_len=256, level_lengths=[16, 16], enc_level_lengths=[16, 16], split_decoders=True,
    z_size=512, enc_rnn_size=[1024, 1024], dec_rnn_size=[1024, 1024], free_bits=256,
    max_beta=0.2),
    codec=dict(TRIO), data=DataConfig("data/trio_16bar"), train=TrainConfig(batch_size=256),
    description="Magenta hier-trio_16bar"))
_add(Config("hierdec-mel_32bar", _mvae(
    max_seq_len=512, level_lengths=[32, 16], z_size=512, enc_rnn_size=[2048, 2048],
    dec_rnn_size=[1024, 1024], free_bits=256, max_beta=0.2),
    codec=dict(MELODY), data=DataConfig("data/mel_32bar"),
    description="hierdec-mel_16bar's architecture stretched to 32 bars (not a Magenta release)"))

# latentbridge's shipped models: small enough to train on a 2-core CPU in an hour or two, one
# torch thread each. The recipes are the ones that trained the shipped bundles
# (scripts/train_defaults.sh): learning rate 2-3e-3 decayed by 0.9997-0.9999 a step (0.998 leaves
# nothing to learn with after ~1k steps), free bits sized to the sequence (Magenta's 48 for two
# bars, 256 for sixteen) so the KL term cannot empty z, Magenta's inverse-sigmoid scheduled
# sampling on the 2-bar models (free-running decoding is what the runtime plays), and for 16 bars
# Magenta's hierarchical encoder (a bidirectional LSTM per bar, another over the bars) instead of
# one flat LSTM over 256 steps. tests/training/test_overfit.py checks each recipe can learn.
_LB_2BAR = dict(steps=20000, batch_size=64, checkpoint_every=500, eval_every=500, eval_batches=4,
                learning_rate=3e-3, decay_rate=0.9998)
_LB_16BAR = dict(steps=12000, batch_size=32, checkpoint_every=250, eval_every=250,
                 eval_batches=4, learning_rate=2e-3, decay_rate=0.9999)
_add(Config("lb-mel_2bar", _mvae(
    max_seq_len=32, z_size=128, enc_rnn_size=[256], dec_rnn_size=[256, 256], free_bits=48,
    max_beta=0.2, beta_rate=0.999, sampling_schedule="inverse_sigmoid", sampling_rate=2000),
    codec=dict(MELODY), data=DataConfig("data/mel_2bar", [-5, 5]), train=TrainConfig(**_LB_2BAR),
    description="small 2-bar melody VAE for CPU training"))
_add(Config("lb-drums_2bar", _mvae(
    max_seq_len=32, z_size=64, enc_rnn_size=[128], dec_rnn_size=[128], free_bits=48, max_beta=0.2,
    sampling_schedule="inverse_sigmoid", sampling_rate=1000),
    codec=dict(DRUMS), data=DataConfig("data/drums_2bar"),
    train=TrainConfig(**{**_LB_2BAR, "decay_rate": 0.9997}),
    description="small 2-bar drum VAE for CPU training"))
_add(Config("lb-mel_16bar", _mvae(
    max_seq_len=256, level_lengths=[16, 16], enc_level_lengths=[16, 16], z_size=256,
    enc_rnn_size=[256, 256], dec_rnn_size=[256], free_bits=256, max_beta=0.2, beta_rate=0.9995),
    codec=dict(MELODY), data=DataConfig("data/mel_16bar"), train=TrainConfig(**_LB_16BAR),
    description="small hierarchical 16-bar melody VAE (hierarchical encoder) for CPU training"))
_add(Config("lb-trio_16bar", _mvae(
    max_seq_len=256, level_lengths=[16, 16], enc_level_lengths=[16, 16], split_decoders=True,
    z_size=256, enc_rnn_size=[256, 256], dec_rnn_size=[256], free_bits=256, max_beta=0.2,
    beta_rate=0.9995),
    codec=dict(TRIO), data=DataConfig("data/trio_16bar", [-5, 5]),
    train=TrainConfig(**{**_LB_16BAR, "batch_size": 16}),
    description="small hierarchical 16-bar trio VAE for CPU training"))

# the other papers' models and the baselines (engineer D), registered into CONFIGS above
from . import configs_papers  # noqa: E402,F401
# GrooVAE: Magenta's groovae configs and the lb-groovae_* ones (training/configs_groove.py)
from . import configs_groove  # noqa: E402,F401
