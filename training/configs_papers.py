"""Named configs of the other papers' models and of the baselines (``training.registry``).

    >>> from training.configs import get_config
    >>> get_config("lb-notes_modular").model.kind
    'modular'

Wang et al. 2019 (modular VAE on note events), MuseBar (IDA 2022; on piano rolls, and the
bar-wise flag on MusicVAE), Tikhonov & Yamshchikov 2017 (VRASH on pitch/octave/duration) and the melody baselines (LM without z,
autoencoder without KL). Paper-size configs keep the paper's name; ``lb-*`` are small CPU ones.
The datasets they expect are built with ``python -m training.prepare`` (see docs/ablation.md).
"""

from __future__ import annotations

from .models.baselines import MelodyAEConfig, MelodyLMConfig
from .models.modular import ModularVAEConfig
from .models.musebar import BarwiseMusicVAEConfig, MuseBarConfig
from .models.vrash import VRASHConfig
from .registry import MELODY, Config, DataConfig, TrainConfig, register

NOTES = {"name": "note_events"}
PIANOROLL = {"name": "pianoroll"}
POD = {"name": "pod"}
_SMALL = dict(steps=2000, batch_size=32, checkpoint_every=250, eval_every=250, eval_batches=4,
              decay_rate=0.999)

# Wang et al. 2019: modularized VAE, note unrolling on/off, and its two baselines
register(Config("modular_vae", ModularVAEConfig(hidden_size=512, embed_size=64, z_size=128),
                codec=dict(NOTES), data=DataConfig("data/nottingham_notes"),
                train=TrainConfig(batch_size=128, learning_rate=1e-4),
                description="Wang et al. 2019 at paper size: 4-GRU encoder, 7-GRU note-unrolling "
                            "decoder, 512 units, 100-note segments"))
for _name, _kw, _what in [
        ("lb-notes_modular", {}, "note unrolling (dT -> T -> P)"),
        ("lb-notes_modular_nounroll", {"unroll": False}, "without note unrolling"),
        ("lb-notes_modular_ae", {"variational": False}, "modularized autoencoder baseline (no KL)"),
        ("lb-notes_bachprop", {"use_encoder": False}, "decoder-only (BachProp-like) baseline")]:
    # the recipe that trained the shipped notes_poly (5 Dec): the old one (z 32, beta 1, no free
    # bits, no transposition) collapsed to 4.8 nats and sat at the most-frequent baseline
    register(Config(_name, ModularVAEConfig(hidden_size=160, embed_size=48, z_size=96,
                                            free_bits=128, max_beta=0.5, kl_anneal_steps=3000,
                                            **_kw),
                    codec=dict(NOTES), data=DataConfig("data/nottingham_notes", [-5, 5]),
                    train=TrainConfig(**{**_SMALL, "learning_rate": 2e-3, "decay_rate": 0.9998,
                                         "eval_batches": 8}),
                    description=f"small modularized VAE on note events, {_what}"))

# MuseBar (IDA 2022): bar-wise KL on piano rolls, and the flag on MusicVAE
register(Config("musebar", MuseBarConfig(hidden_size=512, layers=2, z_size=100, barwise_every=2,
                                         steps_per_bar=16),
                codec=dict(PIANOROLL), data=DataConfig("data/nottingham_pianoroll"),
                train=TrainConfig(batch_size=64),
                description="MuseBar at paper size: 2x512 LSTM piano-roll VAE, bar-wise KL every "
                            "2 bars"))
for _name, _kw, _what in [
        ("lb-pianoroll_musebar", {"barwise_every": 1}, "bar-wise KL every bar (MuseBar)"),
        ("lb-pianoroll_lstmvae", {"barwise_every": 0}, "final-state KL only (vanilla LSTM-VAE)"),
        ("lb-pianoroll_musebar_bow", {"barwise_every": 1, "kl_schedule": "linear",
                                      "kl_anneal_steps": 1000}, "MuseBar + KL annealing"),
        ("lb-pianoroll_vae_bow", {"barwise_every": 0, "kl_schedule": "linear",
                                  "kl_anneal_steps": 1000}, "VAE + KL annealing (VAE-BOW)")]:
    register(Config(_name, MuseBarConfig(hidden_size=128, layers=2, z_size=32, steps_per_bar=16,
                                         **_kw),
                    codec=dict(PIANOROLL), data=DataConfig("data/nottingham_pianoroll"),
                    train=TrainConfig(**_SMALL),
                    description=f"small 2-layer LSTM piano-roll VAE, {_what}"))

_LB_MEL = dict(steps=3000, batch_size=64, checkpoint_every=250, eval_every=250, eval_batches=4,
               decay_rate=0.9995)
register(Config("lb-mel_2bar_barwise", BarwiseMusicVAEConfig(
    max_seq_len=32, z_size=64, enc_rnn_size=[128], dec_rnn_size=[128], max_beta=0.2,
    beta_rate=0.999, steps_per_bar=16, barwise_every=1),
    codec=dict(MELODY), data=DataConfig("data/mel_2bar", [-5, 5]), train=TrainConfig(**_LB_MEL),
    description="small 2-bar melody MusicVAE plus MuseBar's bar-wise KL on the encoder states"))

# Tikhonov & Yamshchikov 2017: VRASH and the plain VRAE on pitch/octave/duration
for _name, _kw, _what in [("lb-pod_vrash", {}, "decoder fed z and its own history (VRASH)"),
                          ("lb-pod_vrae", {"history": False}, "decoder fed z only (VRAE)")]:
    register(Config(_name, VRASHConfig(hidden_size=128, embed_size=16, z_size=16, **_kw),
                    codec=dict(POD), data=DataConfig("data/nottingham_pod"),
                    train=TrainConfig(**_SMALL),
                    description=f"VRASH paper's pitch class/octave/duration, {_what}"))

# baselines on 2-bar melodies: decoder-only LM and plain autoencoder (MusicVAE Table 1 column 1)
register(Config("lb-mel_2bar_lm", MelodyLMConfig(max_seq_len=32, dec_rnn_size=[128]),
                codec=dict(MELODY), data=DataConfig("data/mel_2bar", [-5, 5]),
                train=TrainConfig(**_LB_MEL),
                description="decoder-only LSTM language model on 2-bar melodies (no z)"))
register(Config("lb-mel_2bar_ae", MelodyAEConfig(max_seq_len=32, z_size=64, enc_rnn_size=[128],
                                                 dec_rnn_size=[128]),
                codec=dict(MELODY), data=DataConfig("data/mel_2bar", [-5, 5]),
                train=TrainConfig(**_LB_MEL),
                description="plain autoencoder on 2-bar melodies (z = mu, no KL)"))
