"""Run by test_train.py's DDP test under torchrun: ``training.train``'s own ``main``, each rank
noting the batches its model was given and saving the weights it ended with, beside the run
(``rank0.pt``, ``rank1.pt`` in ``--out``). Rank 0 alone writes the checkpoint, so this is how
the test sees rank 1's model.

    $ torchrun --standalone --nproc_per_node=2 tests/training/ddp_ranks.py lb-mel_2bar \\
          --data data/mel_2bar --out /tmp/ddp --steps 3
"""

import hashlib
import os
import sys
from pathlib import Path

import torch

import training.train as train_module

batches, models = [], []
_build_model = train_module.build_model


def _build_and_watch(config):
    """The real model; a forward pre-hook notes a digest of each training batch it sees."""
    model = _build_model(config)

    def note(module, args):
        batches.append(hashlib.sha1(args[0]["tokens"].numpy().tobytes()).hexdigest())

    model.register_forward_pre_hook(note)
    models.append(model)
    return model


if __name__ == "__main__":
    train_module.build_model = _build_and_watch
    code = train_module.main(sys.argv[1:])
    out = Path(sys.argv[sys.argv.index("--out") + 1])
    weights = {k: v.detach().clone() for k, v in models[0].state_dict().items()}
    torch.save({"batches": batches, "weights": weights}, out / f"rank{os.environ['RANK']}.pt")
    sys.exit(code)
