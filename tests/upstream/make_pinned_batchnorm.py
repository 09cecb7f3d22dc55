"""Pin PyTorch's BatchNorm1d/2d values for tests/test_layers_batchnorm.py.

    /path/to/torch-python tests/upstream/make_pinned_batchnorm.py

writes tests/upstream/batchnorm_torch.json: for a BatchNorm1d (the heads'
case) and a BatchNorm2d (the convnet's), at PyTorch's defaults (eps 1e-5,
momentum 0.1) with a non-trivial affine weight and bias, the train-mode
outputs of two consecutive steps on two batches, and running_mean /
running_var after them. Inputs are written too (NumPy, seed 0), in NCHW for
BatchNorm2d as torch takes them. The modules are torch.nn.BatchNorm1d and
torch.nn.BatchNorm2d themselves (torch/nn/modules/batchnorm.py, class
_BatchNorm.forward: F.batch_norm with the running stats, training=True).
Run with torch 2.14.1+cu130 on CPU, NumPy 2.x (versions also recorded in the
file).
"""

from __future__ import annotations

import json
import os


def _case(module, shape, seed):
    import numpy as np
    import torch

    rng = np.random.default_rng(seed)
    channels = shape[1]
    weight = rng.uniform(0.5, 1.5, channels).astype("float32")
    bias = rng.normal(size=channels).astype("float32")
    batches = [(rng.normal(size=shape) * 3 + 2).astype("float32") for _ in range(2)]
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(weight))
        module.bias.copy_(torch.from_numpy(bias))
    module.train()
    outputs = [module(torch.from_numpy(x)).detach().numpy() for x in batches]
    return {"eps": module.eps, "momentum": module.momentum, "weight": weight.tolist(),
            "bias": bias.tolist(), "inputs": [x.tolist() for x in batches],
            "outputs": [y.tolist() for y in outputs],
            "running_mean": module.running_mean.numpy().tolist(),
            "running_var": module.running_var.numpy().tolist()}


def main():
    import numpy as np
    import torch

    torch.manual_seed(0)
    pinned = {
        "torch": torch.__version__, "numpy": np.__version__,
        "batchnorm1d": _case(torch.nn.BatchNorm1d(6), (5, 6), seed=0),
        "batchnorm2d": _case(torch.nn.BatchNorm2d(4), (3, 4, 2, 2), seed=1),
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "batchnorm_torch.json")
    with open(path, "w") as stream:
        json.dump(pinned, stream, indent=1)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
