"""Convert Li et al.'s released ResNet-18 singular values to a small NumPy file.

Source: github.com/alexlioralexli/noncontrastive-ssl at commit
20b416e3594ed75ff8afd9fde0f99d78a80d9190, files
``data/resnet18_{1,5,10,20,50,100}percent/imagenet/train_reprs_e0_svd.pt``
(each a ``torch.save`` of ``{"stds": torch.svd(reprs - reprs.mean(0)).S}``,
written by the repository's ``test_collapse.py --type svd`` from the ImageNet
training-set representations of a SimSiam ResNet-18 trained on that share of
ImageNet; read by its ``plot_collapse.ipynb``, whose ``auc`` is Eq. 2 of
arXiv 2209.15007).

Run (torch is not a test dependency; this ran with torch 2.14.1 from
/work/torchenv on 2026-12-07)::

    git --git-dir=<mirror of the repository> show \\
        HEAD:data/resnet18_${p}percent/imagenet/train_reprs_e0_svd.pt > r18_$p.pt   # p = 1 ... 100
    python tests/upstream/li2022_resnet18_svd.py <folder with r18_*.pt> studies/data/li2022_resnet18_svd.npz

It prints the notebook's AUC of each share, the values pinned in
tests/test_study_li2022_continual.py.
"""

import os
import sys

import numpy as np
import torch

PERCENTS = (1, 5, 10, 20, 50, 100)
SOURCE = ("alexlioralexli/noncontrastive-ssl@20b416e3594ed75ff8afd9fde0f99d78a80d9190 "
          "data/resnet18_<p>percent/imagenet/train_reprs_e0_svd.pt ['stds']")


def notebook_auc(singular_values):
    """plot_collapse.ipynb, cell "Plot AUC" (Eq. 2 of arXiv 2209.15007)."""
    explvar = np.cumsum(singular_values) / singular_values.sum()
    return explvar.sum() / len(explvar)


def main(folder, output):
    values = [torch.load(os.path.join(folder, f"r18_{p}.pt"), weights_only=True)["stds"].numpy()
              for p in PERCENTS]
    np.savez_compressed(output, fractions=np.array(PERCENTS, np.float64) / 100.0,
                        singular_values=np.stack(values), source=np.array(SOURCE))
    for p, s in zip(PERCENTS, values):
        print(f"{p}%: {notebook_auc(s.astype(np.float64)):.6f}")
    print("torch", torch.__version__, "numpy", np.__version__)


if __name__ == "__main__":
    main(*sys.argv[1:3])
