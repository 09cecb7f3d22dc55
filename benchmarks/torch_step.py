"""PyTorch side of bench_torch: a CIFAR ResNet-18 SimCLR or supervised step.

Runs in the benchmark's own torch virtual environment (``torch`` and the
standard library only: it never imports keras_collapse), as a worker that
bench_torch drives one unit at a time over stdin/stdout (protocol in
``benchmarks/_worker.py``, which the TensorFlow worker shares), from the
repository root:

    <torch venv>/bin/python -m benchmarks.torch_step --task ssl --batch 128 [--channels-last]

The model is what ``kc.encoders.resnet(18, cifar_stem=True)`` builds and
torchvision's ``resnet18`` is with the CIFAR stem (3×3 stride-1 first
convolution, no max-pool; BasicBlock, bias-free convolutions, BatchNorm
eps 1e-5 / momentum 0.1): written out here so that no torchvision is needed.
SSL step: each view through the backbone separately (BatchNorm statistics
per view, as ``kc.models.SiameseModel`` and lightly's SimCLR example), the projection head
Linear(512, 512, bias=False) → BatchNorm1d → ReLU → Linear(512, 128) (lightly
1.6.0 ``SimCLRProjectionHead(512, 512, 128)``, lightly/models/modules/heads.py
line 264, and ``kc.layers.ProjectionHead(128, hidden_dims=(512,))``), NT-Xent
at temperature 0.2 as lightly's single-process ``NTXentLoss``
(lightly/loss/ntx_ent_loss.py lines 160-190: the 2N × (2N − 1) logits without
each view's self-similarity, cross-entropy to the other view). Supervised
step: one batch through the backbone, Linear(512, 10), cross-entropy.
SGD with momentum 0.9 in both.
"""

from __future__ import annotations

import time

import torch
from torch import nn
from torch.nn import functional as F

from benchmarks import _worker


class BasicBlock(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.down = None
        if stride != 1 or cin != planes:
            self.down = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False),
                                      nn.BatchNorm2d(planes))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.down is None else self.down(x)))


class ResNet18(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64),
                                  nn.ReLU())
        blocks, cin = [], 64
        for stage, planes in enumerate((64, 128, 256, 512)):
            for index in range(2):
                blocks.append(BasicBlock(cin, planes, 2 if stage and not index else 1))
                cin = planes
        self.blocks = nn.Sequential(*blocks)
        for module in self.modules():  # torchvision's initialisation
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        return torch.flatten(F.adaptive_avg_pool2d(self.blocks(self.stem(x)), 1), 1)


def nt_xent(z0, z1, temperature=0.2):
    z0, z1 = F.normalize(z0, dim=1), F.normalize(z1, dim=1)
    n = z0.shape[0]
    keep = ~torch.eye(n, dtype=torch.bool)
    l00 = (z0 @ z0.T / temperature)[keep].view(n, -1)
    l01 = z0 @ z1.T / temperature
    l10 = z1 @ z0.T / temperature
    l11 = (z1 @ z1.T / temperature)[keep].view(n, -1)
    logits = torch.cat([torch.cat([l01, l00], 1), torch.cat([l10, l11], 1)], 0)
    return F.cross_entropy(logits, torch.arange(n).repeat(2))


def make_steps(task, batch, image, channels_last):
    """``run_steps(n) -> (wall_s, cpu_s, loss)`` of n training steps."""
    torch.manual_seed(0)
    backbone = ResNet18()
    if task == "ssl":
        head = nn.Sequential(nn.Linear(512, 512, bias=False), nn.BatchNorm1d(512), nn.ReLU(),
                             nn.Linear(512, 128))
    else:
        head = nn.Linear(512, 10)
    model = nn.Sequential(backbone, head)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    views = [torch.rand(batch, 3, image, image).contiguous(memory_format=memory_format)
             for _ in range(2)]
    labels = torch.randint(0, 10, (batch,))

    def step():
        optimizer.zero_grad(set_to_none=True)
        if task == "ssl":
            loss = nt_xent(model(views[0]), model(views[1]))  # per-view BatchNorm, as kc
        else:
            loss = F.cross_entropy(model(views[0]), labels)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    def run_steps(steps):
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(steps):
            loss = step()
        return time.perf_counter() - wall, time.process_time() - cpu, loss

    return run_steps


def _facts(args):
    return {"framework": f"torch {torch.__version__}", "threads": torch.get_num_threads(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability()}


def main(argv=None):
    _worker.main(__doc__, "--channels-last",
                 lambda a: make_steps(a.task, a.batch, a.image, a.channels_last), _facts, argv)


if __name__ == "__main__":
    main()
