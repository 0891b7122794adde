"""Magenta's MusicVAE configs (Magenta's names and sizes) and the small ones latentbridge ships.

    >>> from training.configs import get_config
    >>> cfg = get_config("cat-mel_2bar_small")     # a fresh copy, safe to change
    >>> cfg.model.enc_rnn_size, cfg.model.dec_rnn_size, cfg.model.z_size
    ([512], [256, 256], 256)

Magenta's originals (magenta/models/music_vae/configs.py) keep their names; ``lb-*`` are the
small models latentbridge ships, sized to train in minutes on a laptop CPU. Each is added to the
one registry with :func:`training.registry.register` (``CONFIGS``, ``get_config`` and the
``Config`` classes live there and are importable from here too). The other papers' models are in
``training/configs_papers.py``, GrooVAE's in ``training/configs_groove.py``.
"""

from __future__ import annotations

from .models.musicvae import MusicVAEConfig
from .registry import (CONFIGS, DRUMS, MELODY, TRIO, Config, ConfigError,  # noqa: F401
                       DataConfig, TrainConfig, get_config, register)


def _mvae(**kw) -> MusicVAEConfig:
    return MusicVAEConfig(kind="musicvae", **kw)


# Melody, 2 bars (Magenta: transpose_range=(-5, 5), inverse sigmoid scheduled sampling k=1000)
register(Config("cat-mel_2bar_small", _mvae(
    max_seq_len=32, z_size=256, enc_rnn_size=[512], dec_rnn_size=[256, 256], free_bits=0,
    max_beta=0.2, beta_rate=0.99999, sampling_schedule="inverse_sigmoid", sampling_rate=1000),
    codec=dict(MELODY), data=DataConfig("data/mel_2bar", [-5, 5]),
    description="Magenta cat-mel_2bar_small: 2-bar melody, 1x512 bi-LSTM encoder, 2x256 decoder"))
register(Config("cat-mel_2bar_big", _mvae(
    max_seq_len=32, z_size=512, enc_rnn_size=[2048], dec_rnn_size=[2048, 2048, 2048], free_bits=0,
    max_beta=0.5, beta_rate=0.99999, sampling_schedule="inverse_sigmoid", sampling_rate=1000),
    codec=dict(MELODY), data=DataConfig("data/mel_2bar", [-5, 5]),
    description="Magenta cat-mel_2bar_big: 2-bar melody, 1x2048 encoder, 3x2048 decoder"))

# Drums, 2 bars (roll input, 512-way output; beta_rate stays Magenta's default 0)
register(Config("cat-drums_2bar_small", _mvae(
    max_seq_len=32, z_size=256, enc_rnn_size=[512], dec_rnn_size=[256, 256], free_bits=48,
    max_beta=0.2, sampling_schedule="inverse_sigmoid", sampling_rate=1000),
    codec=dict(DRUMS), data=DataConfig("data/drums_2bar"),
    description="Magenta cat-drums_2bar_small: 2-bar drums, 9-class roll in, 512 classes out"))
register(Config("cat-drums_2bar_big", _mvae(
    max_seq_len=32, z_size=512, enc_rnn_size=[2048], dec_rnn_size=[2048, 2048, 2048],
    free_bits=48, max_beta=0.2, sampling_schedule="inverse_sigmoid", sampling_rate=1000),
    codec=dict(DRUMS), data=DataConfig("data/drums_2bar"),
    description="Magenta cat-drums_2bar_big"))

# Hierarchical, 16 bars (conductor over bars, no autoregression between bars at the top)
register(Config("hierdec-mel_16bar", _mvae(
    max_seq_len=256, level_lengths=[16, 16], z_size=512, enc_rnn_size=[2048, 2048],
    dec_rnn_size=[1024, 1024], free_bits=256, max_beta=0.2),
    codec=dict(MELODY), data=DataConfig("data/mel_16bar"),
    description="Magenta hierdec-mel_16bar: 16 bars, conductor 2x1024, bar decoder 2x1024"))
register(Config("hierdec-trio_16bar", _mvae(
    max_seq_len=256, level_lengths=[16, 16], split_decoders=True, z_size=512,
    enc_rnn_size=[2048, 2048], dec_rnn_size=[1024, 1024], free_bits=256, max_beta=0.2),
    codec=dict(TRIO), data=DataConfig("data/trio_16bar"),
    train=TrainConfig(batch_size=256),
    description="Magenta hierdec-trio_16bar: melody, bass, drums decoders under one conductor"))
# Hierarchical encoder too (Magenta's hier-*: one bidirectional 1024 layer per level)
register(Config("hier-mel_16bar", _mvae(
    max_seq_len=256, level_lengths=[16, 16], enc_level_lengths=[16, 16], z_size=512,
    enc_rnn_size=[1024, 1024], dec_rnn_size=[1024, 1024], free_bits=256, max_beta=0.2),
    codec=dict(MELODY), data=DataConfig("data/mel_16bar"),
    description="Magenta hier-mel_16bar: bar encoder + bar-sequence encoder, conductor decoder"))
register(Config("hier-trio_16bar", _mvae(
    max_seq_len=256, level_lengths=[16, 16], enc_level_lengths=[16, 16], split_decoders=True,
    z_size=512, enc_rnn_size=[1024, 1024], dec_rnn_size=[1024, 1024], free_bits=256,
    max_beta=0.2),
    codec=dict(TRIO), data=DataConfig("data/trio_16bar"), train=TrainConfig(batch_size=256),
    description="Magenta hier-trio_16bar"))
register(Config("hierdec-mel_32bar", _mvae(
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
# one flat LSTM over 256 steps, with a batch-normalised mu (BN-VAE, Zhu et al. 2020) and Glorot
# init of the latent layers: without them both 16-bar encoders gave every window the same z within
# 200 steps (docs/training.md, "The 16-bar models"). tests/training/test_overfit.py checks each
# recipe can learn.
_LB_2BAR = dict(steps=20000, batch_size=64, checkpoint_every=500, eval_every=500, eval_batches=4,
                learning_rate=3e-3, decay_rate=0.9998)
_LB_16BAR = dict(steps=12000, batch_size=32, checkpoint_every=250, eval_every=250,
                 eval_batches=4, learning_rate=2e-3, decay_rate=0.9999)
register(Config("lb-mel_2bar", _mvae(
    max_seq_len=32, z_size=128, enc_rnn_size=[256], dec_rnn_size=[256, 256], free_bits=48,
    max_beta=0.2, beta_rate=0.999, sampling_schedule="inverse_sigmoid", sampling_rate=2000),
    codec=dict(MELODY), data=DataConfig("data/mel_2bar", [-5, 5]), train=TrainConfig(**_LB_2BAR),
    description="small 2-bar melody VAE for CPU training"))
register(Config("lb-drums_2bar", _mvae(
    max_seq_len=32, z_size=64, enc_rnn_size=[128], dec_rnn_size=[128], free_bits=48, max_beta=0.2,
    sampling_schedule="inverse_sigmoid", sampling_rate=1000),
    codec=dict(DRUMS), data=DataConfig("data/drums_2bar"),
    train=TrainConfig(**{**_LB_2BAR, "decay_rate": 0.9997}),
    description="small 2-bar drum VAE for CPU training"))
register(Config("lb-mel_16bar", _mvae(
    max_seq_len=256, level_lengths=[16, 16], enc_level_lengths=[16, 16], z_size=256,
    enc_rnn_size=[256, 256], dec_rnn_size=[256], free_bits=256, max_beta=0.2, beta_rate=0.9995,
    latent_init_stddev=0.0, mu_batch_norm=1.0),
    codec=dict(MELODY), data=DataConfig("data/mel_16bar"), train=TrainConfig(**_LB_16BAR),
    description="small hierarchical 16-bar melody VAE (hierarchical encoder) for CPU training"))
register(Config("lb-trio_16bar", _mvae(
    max_seq_len=256, level_lengths=[16, 16], enc_level_lengths=[16, 16], split_decoders=True,
    z_size=256, enc_rnn_size=[256, 256], dec_rnn_size=[256], free_bits=256, max_beta=0.2,
    beta_rate=0.9995, latent_init_stddev=0.0, mu_batch_norm=1.0),
    codec=dict(TRIO), data=DataConfig("data/trio_16bar", [-5, 5]), train=TrainConfig(**_LB_16BAR),
    description="small hierarchical 16-bar trio VAE for CPU training"))
