"""Model registry: ``config.model.kind`` -> (model class, config dataclass).

    >>> from training.models import build_model, MODELS
    >>> sorted(MODELS)
    ['musicvae', ...]
    >>> model = build_model(cfg.model)              # cfg from training.configs.get_config(name)

A new model module (any ``training/models/<name>.py``, imported automatically) registers itself
with ``@register_model("kind")`` on its class, whose ``config_class`` names its config dataclass.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import Model, ModelConfig

MODELS: dict[str, type[Model]] = {}


def register_model(kind: str):
    """Class decorator: make ``build_model`` construct this class for ``config.kind == kind``."""
    def decorate(cls: type[Model]) -> type[Model]:
        MODELS[kind] = cls
        return cls
    return decorate


def model_class(kind: str) -> type[Model]:
    if kind not in MODELS:
        raise ValueError(f"unknown model kind {kind!r} (known: {', '.join(sorted(MODELS))})")
    return MODELS[kind]


def build_model(config: ModelConfig) -> Model:
    return model_class(config.kind)(config)


# Every module of this package registers its models on import: a new model kind is a new file
# here, nothing else to edit.
for _info in pkgutil.iter_modules(__path__):
    if _info.name != "base" and not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")
