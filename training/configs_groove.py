"""Named GrooVAE configs, Magenta's and the small ones we ship (``training.registry.register``).

    >>> from training.configs import get_config
    >>> cfg = get_config("lb-groovae_2bar_humanize")
    >>> cfg.model.kind, cfg.codec["input_transform"]
    ('groovae', 'humanize')

All read one dataset of played grooves, ``python -m training.prepare shared:groove
data/groove_2bar --kind groove --bars 2``; the codec block's ``input_transform`` (the groove
codec's only input option) decides what the encoder sees: ``humanize`` (Groove: quantized,
flat-velocity drums in) or ``tap`` (Drumify: one tapped rhythm line in). Magenta's names and sizes
(music_vae/configs.py) are kept as they are; ``lb-*`` are CPU-sized (~7 MB bundles).
"""

from __future__ import annotations

from .models.groovae import GrooVAEConfig
from .registry import Config, DataConfig, TrainConfig, register


def groove(transform: str) -> dict:
    return {"name": "groove", "input_transform": transform}


# Magenta's groovae configs: 1x512 bidirectional encoder, 2x256 decoder, z 256, 48 free bits,
# beta 0.2, dropout_keep_prob 0.3, batch 512, teacher forcing; velocity/offset MSE everywhere
def _magenta(steps: int) -> GrooVAEConfig:
    return GrooVAEConfig(max_seq_len=steps, z_size=256, enc_rnn_size=[512],
                         dec_rnn_size=[256, 256], free_bits=48, max_beta=0.2, dropout=0.7)


register(Config("groovae_2bar_humanize", _magenta(32), codec=groove("humanize"),
                data=DataConfig("data/groove_2bar"), train=TrainConfig(batch_size=512),
                description="Magenta groovae_2bar_humanize: quantized flat-velocity drums in, "
                            "velocities and microtiming out"))
register(Config("groovae_2bar_tap_fixed_velocity", _magenta(32), codec=groove("tap"),
                data=DataConfig("data/groove_2bar"), train=TrainConfig(batch_size=512),
                description="Magenta groovae_2bar_tap_fixed_velocity: one tapped rhythm in, a drum "
                            "groove out"))
register(Config("groovae_4bar", _magenta(64), codec=groove("full"),
                data=DataConfig("data/groove_4bar"), train=TrainConfig(batch_size=512),
                description="Magenta groovae_4bar: 4-bar groove autoencoder (the performance in)"))

# latentbridge's shipped groove models: 1x256 encoder, 2x256 decoder, z 128 (~7 MB), the 2-bar
# recipe of lb-mel_2bar / lb-drums_2bar (lr 3e-3 decayed by 0.9998, 48 free bits, beta 0.2
# reached over ~3k steps), Magenta's dropout lightened to 0.3 for the smaller network, velocity
# and offset errors on the played hits only
_LB = dict(steps=20000, batch_size=64, checkpoint_every=500, eval_every=500, eval_batches=8,
           learning_rate=3e-3, decay_rate=0.9998)


def _lb() -> GrooVAEConfig:
    return GrooVAEConfig(max_seq_len=32, z_size=128, enc_rnn_size=[256], dec_rnn_size=[256, 256],
                         free_bits=48, max_beta=0.2, beta_rate=0.999, dropout=0.3,
                         mse_on_hits_only=True)


register(Config("lb-groovae_2bar_humanize", _lb(), codec=groove("humanize"),
                data=DataConfig("data/groove_2bar"), train=TrainConfig(**_LB),
                description="small 2-bar GrooVAE (humanize: Groove) for CPU training"))
register(Config("lb-groovae_2bar_tap", _lb(), codec=groove("tap"),
                data=DataConfig("data/groove_2bar"), train=TrainConfig(**_LB),
                description="small 2-bar GrooVAE (tap: Drumify) for CPU training"))
