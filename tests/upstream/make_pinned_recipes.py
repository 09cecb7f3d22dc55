"""Pin the paper-scale recipes' loss, gradients and optimizer steps from the upstream PyTorch code.

Run (PyTorch is not a test dependency; this script is not collected by pytest)::

    /work/torchenv/bin/python tests/upstream/make_pinned_recipes.py [--mirrors DIR]

It writes ``tests/upstream/pinned_recipes.npz`` (arrays) and
``pinned_recipes.json`` (versions, upstream commits, settings), read by
``tests/test_recipes_pinned.py`` and ``tests/test_optimizers_pinned.py``.

No upstream code is copied into this repository: at run time the script reads
the exact files from git mirrors of the upstream repositories (``--mirrors``,
default ``/work/.mirror``; any clone works, with the directory layout
``<owner>+<name>/repo`` holding the git directory) at the commits below,
writes them to a temporary directory and imports them:

* solo-learn (vturrisi/solo-learn) at fca55e3 (2021-07-09, "Updating results
  (#73)", the commit that published SimCLR 90.74, SimSiam 90.51, BYOL 92.58,
  Barlow Twins 92.10, VICReg 92.07): ``solo/losses/{simclr,simsiam,byol,
  barlow,vicreg}.py``, ``solo/utils/lars.py`` (``LARSWrapper``),
  ``solo/utils/momentum.py``; at bbf2d7e (2022-06-28, "Add Mocov3 (#268)",
  MoCo v3 93.10): ``solo/losses/mocov3.py``, ``solo/utils/lars.py`` (``LARS``),
  ``solo/utils/momentum.py``.
* Lightning Bolts (Lightning-Universe/lightning-bolts) tag 0.3.4:
  ``pl_bolts/optimizers/lr_scheduler.py`` (``LinearWarmupCosineAnnealingLR``).
* Li et al. (alexlioralexli/noncontrastive-ssl) at 20b416e:
  ``autolearn/{simsiam,moco,byol}/builder.py``, ``autolearn/moco/optimizer.py``.
* DirectCLR (facebookresearch/directclr) at a86f64c: ``directclr/main.py``
  (``infoNCE``) and ``directclr/utils.py`` (``LARS``, ``exclude_bias_and_norm``).
* facebookresearch/moco-v3 at c349e6e: ``moco/optimizer.py`` (``LARS``).

The heads of solo-learn's methods are written out below from
``solo/methods/*.py`` at those commits (file and line beside each), because
the method modules import PyTorch Lightning 1.x and Lightning Bolts; the heads
of Li et al. come from their builders themselves.

The model is tiny (6 input features, a 10-d representation, heads of width
12 and outputs of 8) so the numbers fit in a small file; the encoder is the
test's own (Linear without bias, BatchNorm, ReLU), standing in for the
ResNet: the recipes' heads, objectives, optimizers and schedules are what is
compared. Biases that solo-learn puts before a BatchNorm (and SimSiam's frozen
projector bias before its final BatchNorm) are set to zero: a BatchNorm in
training mode cancels them, and the Keras heads drop them.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import types

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
SOLO, SOLO_MOCOV3 = ("fca55e3fc41072123ba3f5f69c980435b1a1d356",
                     "bbf2d7e27ad8124e4faf457bce095a51967bc4cd")
BOLTS = "256ca700870e5df9517501f92e7a3150024c4a07"  # tag 0.3.4
LI = "20b416e3594ed75ff8afd9fde0f99d78a80d9190"
DIRECTCLR = "a86f64c9b0815ff19cfea9929cb7dc6bc293b5d4"
MOCOV3 = "c349e6e24f40d3fedb22d973f92defa4cedf37a7"

IN, REP, HIDDEN, OUT, PRED = 6, 10, 12, 8, 4   # tiny widths (Keras test binds the same)
BATCH = 8


class Upstream:
    """Imports single files of upstream repositories from their git mirrors."""

    def __init__(self, mirrors):
        self.mirrors = mirrors
        self.tmp = tempfile.mkdtemp(prefix="pinned_upstream_")

    def load(self, repo, commit, path, name, prelude=None):
        git_dir = os.path.join(self.mirrors, repo.replace("/", "+"), "repo")
        text = subprocess.run(["git", "--git-dir", git_dir, "show", f"{commit}:{path}"],
                              check=True, capture_output=True, text=True).stdout
        file = os.path.join(self.tmp, name.replace(".", "_") + ".py")
        with open(file, "w") as stream:
            stream.write(text)
        if prelude:
            prelude()
        spec = importlib.util.spec_from_file_location(name, file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module


def cpu_only():
    """The upstream code moves labels to CUDA (`.cuda()`); this machine has
    no GPU, so `.cuda()` is the identity here."""
    torch.Tensor.cuda = lambda self, *args, **kwargs: self


def stub_classy_vision():
    """directclr/utils.py imports classy_vision's distributed helpers; on one
    process they are the identity (`is_distributed_training_run` False)."""
    package = types.ModuleType("classy_vision")
    generic = types.ModuleType("classy_vision.generic")
    util = types.ModuleType("classy_vision.generic.distributed_util")
    util.convert_to_distributed_tensor = lambda tensor: (tensor, tensor.device)
    util.convert_to_normal_tensor = lambda tensor, device: tensor
    util.is_distributed_training_run = lambda: False
    for module in (package, generic, util):
        sys.modules[module.__name__] = module


# ----------------------------------------------------------------- the model
class TinyNet(nn.Module):
    """The test's encoder (not upstream), with a torchvision-style `fc` so Li
    et al.'s builders can replace it by their projector."""

    def __init__(self, num_classes=REP):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(IN, REP, bias=False), nn.BatchNorm1d(REP), nn.ReLU())
        self.fc = nn.Linear(REP, num_classes)

    def forward(self, x):
        return self.fc(self.body(x))


def encoder():
    return TinyNet().body


def linear_bn_relu(a, b, bias=True):
    return [nn.Linear(a, b, bias=bias), nn.BatchNorm1d(b), nn.ReLU()]


def solo_heads(method):
    """solo-learn's projector (and predictor) at tiny width."""
    if method == "simclr":      # solo/methods/simclr.py@fca55e3 lines 16-20
        return nn.Sequential(nn.Linear(REP, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, OUT)), None
    if method == "simsiam":     # solo/methods/simsiam.py@fca55e3 lines 18-36
        projector = nn.Sequential(*linear_bn_relu(REP, HIDDEN, False),
                                  *linear_bn_relu(HIDDEN, HIDDEN, False),
                                  nn.Linear(HIDDEN, OUT), nn.BatchNorm1d(OUT, affine=False))
        projector[6].bias.requires_grad = False  # line 28
        predictor = nn.Sequential(*linear_bn_relu(OUT, PRED, False), nn.Linear(PRED, OUT))
        return projector, predictor
    if method == "byol":        # solo/methods/byol.py@fca55e3 lines 20-42
        return (nn.Sequential(*linear_bn_relu(REP, HIDDEN), nn.Linear(HIDDEN, OUT)),
                nn.Sequential(*linear_bn_relu(OUT, HIDDEN), nn.Linear(HIDDEN, OUT)))
    if method in ("barlow_twins", "vicreg"):  # barlow_twins.py lines 14-22, vicreg.py 23-31
        return nn.Sequential(*linear_bn_relu(REP, HIDDEN), *linear_bn_relu(HIDDEN, HIDDEN),
                             nn.Linear(HIDDEN, OUT)), None
    if method == "mocov3":      # solo/methods/mocov3.py@bbf2d7e lines 53-77
        return (nn.Sequential(*linear_bn_relu(REP, HIDDEN), nn.Linear(HIDDEN, OUT),
                              nn.BatchNorm1d(OUT, affine=False)),
                nn.Sequential(*linear_bn_relu(OUT, HIDDEN), nn.Linear(HIDDEN, OUT)))
    raise ValueError(method)


def zero_biases_before_bn(module):
    """Zero every Linear bias followed by a BatchNorm (cancelled by it)."""
    children = list(module.children())
    for layer, following in zip(children, children[1:]):
        if isinstance(layer, nn.Linear) and layer.bias is not None \
                and isinstance(following, nn.BatchNorm1d):
            with torch.no_grad():
                layer.bias.zero_()


def layers_of(*modules):
    """[(kind, arrays)] for every Linear / BatchNorm1d in order: what the Keras
    test loads into its Dense / BatchNormalization layers."""
    def array(p):
        return None if p is None else p.detach().numpy().copy()

    out = []
    for module in modules:
        for layer in module.modules():
            if isinstance(layer, nn.Linear):
                out.append(("linear", [array(layer.weight).T.copy(), array(layer.bias)]))
            elif isinstance(layer, nn.BatchNorm1d):
                out.append(("bn", [array(layer.weight), array(layer.bias)]))
    return out


def grads_of(*modules):
    out = []
    for module in modules:
        for layer in module.modules():
            if isinstance(layer, (nn.Linear, nn.BatchNorm1d)):
                grads = []
                for p in (layer.weight, layer.bias):
                    if p is None or p.grad is None:
                        grads.append(None)
                    else:
                        g = p.grad.detach().numpy().copy()
                        grads.append(g.T.copy() if isinstance(layer, nn.Linear) and g.ndim == 2
                                     else g)
                out.append(grads)
    return out


def store(arrays, prefix, layers):
    for i, (_, values) in enumerate(layers):
        for j, value in enumerate(values):
            if value is not None:
                arrays[f"{prefix}/{i}/{j}"] = value.astype(np.float32)


def store_grads(arrays, prefix, grads):
    for i, values in enumerate(grads):
        for j, value in enumerate(values):
            if value is not None:
                arrays[f"{prefix}/{i}/{j}"] = value.astype(np.float32)


def two_steps(arrays, method, modules, objective, optimizer, after_step=None):
    """Pin the initial weights, the loss and gradients, and the weights after
    each of two optimizer steps; return the layer kinds."""
    store(arrays, f"{method}/init", layers_of(*modules))
    step_losses = []
    for step in range(2):
        optimizer.zero_grad()
        loss = objective()
        loss.backward()
        step_losses.append(float(loss.detach()))
        if step == 0:
            store_grads(arrays, f"{method}/grad", grads_of(*modules))
        optimizer.step()
        if after_step is not None:
            after_step()
        store(arrays, f"{method}/step{step + 1}", layers_of(*modules))
    arrays[f"{method}/loss"] = np.array(step_losses, np.float32)
    return [kind for kind, _ in layers_of(*modules)]


# ---------------------------------------------------------------- recipes
def solo_recipe(up, method, arrays, meta, views):
    """One solo-learn CIFAR recipe: loss, gradients, two steps."""
    torch.manual_seed(1)
    settings = SOLO_SETTINGS[method]
    commit = SOLO_MOCOV3 if method == "mocov3" else SOLO
    loss_module = up.load("vturrisi/solo-learn", commit, f"solo/losses/{settings['loss_file']}.py",
                          f"solo_{method}_loss")
    momentum = up.load("vturrisi/solo-learn", commit, "solo/utils/momentum.py",
                       f"solo_momentum_{commit[:7]}")
    enc = encoder()
    projector, predictor = solo_heads(method)
    zero_biases_before_bn(projector)
    if method == "simsiam":
        with torch.no_grad():
            projector[6].bias.zero_()
    if predictor is not None:
        zero_biases_before_bn(predictor)
    online = [enc, projector] + ([predictor] if predictor is not None else [])
    target = None
    if settings.get("momentum_tau") is not None:
        target = [copy.deepcopy(enc), copy.deepcopy(projector)]
        for o, t in zip(online[:2], target):
            momentum.initialize_momentum_params(o, t)
        updater = momentum.MomentumUpdater(settings["momentum_tau"], settings["momentum_tau"])
    a, b = (torch.tensor(v) for v in views)

    def objective():
        z1, z2 = projector(enc(a)), projector(enc(b))
        if method == "simclr":      # solo/methods/simclr.py lines 88-98
            return loss_module.simclr_loss_func(z1, z2, temperature=settings["temperature"])
        if method == "barlow_twins":  # barlow_twins.py line 57; barlow.sh line 28
            return loss_module.barlow_loss_func(z1, z2, lamb=settings["lamb"],
                                                scale_loss=settings["scale_loss"])
        if method == "vicreg":      # vicreg.py lines 67-73
            return loss_module.vicreg_loss_func(z1, z2, 25.0, 25.0, 1.0)
        p1, p2 = predictor(z1), predictor(z2)
        if method == "simsiam":     # simsiam.py line 77
            return (loss_module.simsiam_loss_func(p1, z2) / 2
                    + loss_module.simsiam_loss_func(p2, z1) / 2)
        with torch.no_grad():
            k1, k2 = (target[1](target[0](v)) for v in (a, b))
        if method == "byol":        # byol.py line 94
            return loss_module.byol_loss_func(p1, k2) / 2 + loss_module.byol_loss_func(p2, k1) / 2
        # mocov3.py@bbf2d7e line 170 (temperature not passed: the default 0.2)
        return loss_module.mocov3_loss_func(p1, k2) + loss_module.mocov3_loss_func(p2, k1)

    def update_target():  # solo-learn: on_train_batch_end, after the step
        if target is not None:
            for o, t in zip(online[:2], target):
                updater.update(o, t)

    optimizer = settings["optimizer"](up, online, settings)
    layers = two_steps(arrays, method, online, objective, optimizer, update_target)
    meta[method] = {k: v for k, v in settings.items() if k != "optimizer"}
    meta[method]["layers"] = layers


def solo_lars_wrapper(up, online, settings):
    """fca55e3: SGD(momentum 0.9, weight decay) wrapped in LARSWrapper
    (solo/methods/base.py lines 182-190; eta 0.02, clip True, eps 1e-8 are
    LARSWrapper's defaults, solo/utils/lars.py line 16)."""
    lars = up.load("vturrisi/solo-learn", SOLO, "solo/utils/lars.py", "solo_lars_wrapper")
    params = [p for m in online for p in m.parameters() if p.requires_grad]
    sgd = torch.optim.SGD(params, lr=settings["lr"], momentum=0.9,
                          weight_decay=settings["weight_decay"])
    return lars.LARSWrapper(sgd, exclude_bias_n_norm=True)


def solo_lars_class(up, online, settings):
    """bbf2d7e: solo.utils.lars.LARS (--optimizer lars --eta_lars 0.02
    --exclude_bias_n_norm, no --grad_clip_lars: bash_files/pretrain/cifar/mocov3.sh)."""
    lars = up.load("vturrisi/solo-learn", SOLO_MOCOV3, "solo/utils/lars.py", "solo_lars_class")
    params = [p for m in online for p in m.parameters() if p.requires_grad]
    return lars.LARS(params, lr=settings["lr"], momentum=0.9,
                     weight_decay=settings["weight_decay"], eta=0.02, clip_lars_lr=False,
                     exclude_bias_n_norm=True)


def solo_sgd_static_predictor(up, online, settings):
    """SimSiam: torch.optim.SGD, the predictor's group at the fixed base lr
    (solo/methods/simsiam.py line 55 `static_lr`; base.py lines 169-217)."""
    del up
    enc, projector, predictor = online
    groups = [{"params": list(enc.parameters())},
              {"params": [p for p in projector.parameters() if p.requires_grad]},
              {"params": list(predictor.parameters()), "lr": settings["fixed_lr"]}]
    return torch.optim.SGD(groups, lr=settings["lr"], momentum=0.9,
                           weight_decay=settings["weight_decay"])


SOLO_SETTINGS = {
    # bash_files/pretrain/cifar/<method>.sh at fca55e3 / bbf2d7e; `lr` here is
    # the schedule's value at the two pinned steps (the peak of each recipe;
    # SimSiam: 0.3 for the scheduled groups against its fixed 0.5).
    "simclr": {"loss_file": "simclr", "temperature": 0.2, "lr": 0.4, "weight_decay": 1e-5,
               "optimizer": solo_lars_wrapper, "config": "cifar10_simclr"},
    "simsiam": {"loss_file": "simsiam", "lr": 0.3, "fixed_lr": 0.5, "weight_decay": 1e-5,
                "optimizer": solo_sgd_static_predictor, "config": "cifar10_simsiam"},
    "byol": {"loss_file": "byol", "lr": 1.0, "weight_decay": 1e-5, "momentum_tau": 0.99,
             "optimizer": solo_lars_wrapper, "config": "cifar10_byol"},
    "barlow_twins": {"loss_file": "barlow", "lamb": 5e-3, "scale_loss": 0.1, "lr": 0.3,
                     "weight_decay": 1e-4, "optimizer": solo_lars_wrapper,
                     "config": "cifar10_barlow_twins"},
    "vicreg": {"loss_file": "vicreg", "lr": 0.3, "weight_decay": 1e-4,
               "optimizer": solo_lars_wrapper, "config": "cifar10_vicreg"},
    "mocov3": {"loss_file": "mocov3", "lr": 0.3, "weight_decay": 1e-6, "momentum_tau": 0.99,
               "optimizer": solo_lars_class, "config": "cifar10_mocov3"},
}


def li_recipe(up, method, arrays, meta, views):
    """Li et al.'s SimSiam (main_simsiam.py) and MoCo v3 / BYOL (main_moco.py)."""
    torch.manual_seed(2)
    a, b = (torch.tensor(v) for v in views)
    if method == "li_simsiam":
        builder = up.load("alexlioralexli/noncontrastive-ssl", LI,
                          "autolearn/simsiam/builder.py", "li_simsiam_builder")
        # main_simsiam.py line 256 (the ResNet's zero-init is the encoder's business)
        model = builder.SimSiam(TinyNet, OUT, PRED)
        with torch.no_grad():
            model.encoder.fc[6].bias.zero_()  # frozen (line 59), cancelled by the BN
        online = [model.encoder.body, model.encoder.fc, model.predictor]
        # main_simsiam.py lines 293-307: --fix-pred-lr groups, SGD(momentum .9, wd 1e-4)
        lr, fixed = 0.03, 0.05
        optimizer = torch.optim.SGD(
            [{"params": model.encoder.parameters(), "fix_lr": False},
             {"params": model.predictor.parameters(), "fix_lr": True}],
            lr, momentum=0.9, weight_decay=1e-4)
        for group in optimizer.param_groups:  # adjust_learning_rate, lines 576-580
            group["lr"] = fixed if group["fix_lr"] else lr
        criterion = nn.CosineSimilarity(dim=1)

        def objective():
            p1, z1 = model(a)
            p2, z2 = model(b)
            return -(criterion(p1, z2).mean() + criterion(p2, z1).mean()) * 0.5  # line 443
        settings = {"lr": lr, "fixed_lr": fixed, "weight_decay": 1e-4,
                    "config": "li2022_table2"}
        step_hook = None
    else:
        kind = "moco" if method == "li_mocov3" else "byol"
        builder = up.load("alexlioralexli/noncontrastive-ssl", LI,
                          f"autolearn/{kind}/builder.py", f"li_{kind}_builder")
        optim = up.load("alexlioralexli/noncontrastive-ssl", LI, "autolearn/moco/optimizer.py",
                        "li_moco_optimizer")
        if kind == "moco":  # main_moco.py lines 202-204 (T 1.0, line 101)
            model = builder.MoCo_ResNet(TinyNet, OUT, HIDDEN, 1.0)
        else:               # lines 206-208
            model = builder.BYOL_ResNet(TinyNet, OUT, HIDDEN)
        online = [model.base_encoder.body, model.base_encoder.fc, model.predictor]
        lr = 0.6 * 4096 / 256 / 10   # a warmup step's value of the 9.6 peak
        optimizer = optim.LARS(model.parameters(), lr, weight_decay=1e-6, momentum=0.9)

        def objective():  # the momentum update happens inside forward (m 0.99, line 96)
            return model(a, b, 0.99)
        settings = {"lr": lr, "weight_decay": 1e-6, "momentum_tau": 0.99,
                    "config": "li2022_single_pass_moco_byol"}
    meta[method] = dict(settings, layers=two_steps(arrays, method, online, objective, optimizer))


def directclr_recipe(up, arrays, meta, views):
    """DirectCLR (directclr/main.py --mode directclr): infoNCE of the first d0
    dimensions both ways, LARS of utils.py (exclude_bias_and_norm filters)."""
    torch.manual_seed(3)
    utils = up.load("facebookresearch/directclr", DIRECTCLR, "directclr/utils.py", "utils",
                    prelude=stub_classy_vision)
    main = up.load("facebookresearch/directclr", DIRECTCLR, "directclr/main.py",
                   "directclr_main")
    dim = 6
    enc = encoder()
    a, b = (torch.tensor(v) for v in views)
    lr = 0.48   # a warmup step's value of the 4.8 peak
    optimizer = utils.LARS(enc.parameters(), lr=lr, weight_decay=1e-6,  # main.py lines 85-87
                           weight_decay_filter=utils.exclude_bias_and_norm,
                           lars_adaptation_filter=utils.exclude_bias_and_norm)

    def objective():  # main.py lines 178-181
        z1, z2 = enc(a)[:, :dim], enc(b)[:, :dim]
        return main.infoNCE(z1, z2) / 2 + main.infoNCE(z2, z1) / 2
    meta["directclr"] = {"lr": lr, "weight_decay": 1e-6, "dim": dim,
                         "config": "jing2022_directclr_imagenet",
                         "layers": two_steps(arrays, "directclr", [enc], objective, optimizer)}


# ------------------------------------------------------- optimizers alone
def optimizer_cases(up, arrays, meta):
    """Three steps of each upstream optimizer on fixed arrays, the learning
    rate changing every step (so the place of lr in the momentum shows)."""
    rng = np.random.default_rng(7)
    shapes = [(4, 3), (3,), (3, 2)]
    init = [rng.normal(size=s).astype(np.float32) for s in shapes]
    init[2][:] = 0.0   # ‖w‖ = 0: no adaptation
    grads = [[rng.normal(size=s).astype(np.float32) for s in shapes] for _ in range(3)]
    lrs = [0.5, 0.3, 0.05]
    for i, w in enumerate(init):
        arrays[f"opt/init/{i}"] = w
    for t, step in enumerate(grads):
        for i, g in enumerate(step):
            arrays[f"opt/grad/{t}/{i}"] = g
    arrays["opt/lrs"] = np.array(lrs, np.float32)
    solo_wrapper = up.load("vturrisi/solo-learn", SOLO, "solo/utils/lars.py", "opt_wrapper")
    solo_class = up.load("vturrisi/solo-learn", SOLO_MOCOV3, "solo/utils/lars.py", "opt_class")
    moco = up.load("facebookresearch/moco-v3", MOCOV3, "moco/optimizer.py", "opt_moco")
    cases = {
        "torch_sgd": lambda p: torch.optim.SGD(p, lr=lrs[0], momentum=0.9, weight_decay=0.1),
        "solo_wrapper_clip": lambda p: solo_wrapper.LARSWrapper(
            torch.optim.SGD(p, lr=lrs[0], momentum=0.9, weight_decay=0.05),
            eta=0.02, clip=True, exclude_bias_n_norm=True),
        "solo_lars_clip": lambda p: solo_class.LARS(
            p, lr=lrs[0], momentum=0.9, weight_decay=0.05, eta=0.02, clip_lars_lr=True,
            exclude_bias_n_norm=True),
        "solo_lars_noclip": lambda p: solo_class.LARS(
            p, lr=lrs[0], momentum=0.9, weight_decay=0.05, eta=0.02, clip_lars_lr=False,
            exclude_bias_n_norm=True),
        "mocov3_lars": lambda p: moco.LARS(p, lr=lrs[0], weight_decay=0.05, momentum=0.9,
                                           trust_coefficient=0.02),
    }
    for name, make in cases.items():
        params = [torch.nn.Parameter(torch.tensor(w)) for w in init]
        optimizer = make(params)
        for t, step in enumerate(grads):
            for group in optimizer.param_groups:
                group["lr"] = lrs[t]
            for p, g in zip(params, step):
                p.grad = torch.tensor(g)
            optimizer.step()
        for i, p in enumerate(params):
            arrays[f"opt/{name}/{i}"] = p.detach().numpy().copy()
    meta["optimizers"] = {"shapes": shapes, "lrs": lrs, "momentum": 0.9,
                          "weight_decay": {"torch_sgd": 0.1, "lars": 0.05},
                          "trust_coefficient": 0.02, "cases": list(cases)}


def schedule_cases(up, arrays, meta):
    """Lightning Bolts' LinearWarmupCosineAnnealingLR stepped as solo-learn
    stepped it: per epoch at fca55e3 (warmup 10, 1000 epochs, warmup start
    0.003, base_lr 0.4) and per step at bbf2d7e (warmup 1950, 195000 steps,
    start 3e-5, base 0.3): the learning rate after each scheduler step."""
    bolts = up.load("Lightning-Universe/lightning-bolts", BOLTS,
                    "pl_bolts/optimizers/lr_scheduler.py", "bolts_lr_scheduler")
    runs = {"per_epoch": (0.4, 10, 1000, 0.003, 1000), "per_step": (0.3, 1950, 195000, 3e-5, 4000)}
    for name, (base, warmup, total, start, recorded) in runs.items():
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base)
        scheduler = bolts.LinearWarmupCosineAnnealingLR(optimizer, warmup_epochs=warmup,
                                                        max_epochs=total, warmup_start_lr=start)
        values = []
        for _ in range(recorded):
            values.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
        arrays[f"schedule/{name}"] = np.array(values, np.float64)
        meta.setdefault("schedules", {})[name] = {
            "learning_rate": base, "warmup_epochs": warmup, "max_epochs": total,
            "warmup_start_lr": start, "recorded": recorded}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirrors", default="/work/.mirror")
    parser.add_argument("--out", default=os.path.join(HERE, "pinned_recipes"))
    args = parser.parse_args()
    cpu_only()
    torch.use_deterministic_algorithms(True)
    up = Upstream(args.mirrors)
    rng = np.random.default_rng(0)
    views = [rng.normal(size=(BATCH, IN)).astype(np.float32) for _ in range(2)]
    arrays = {"views/a": views[0], "views/b": views[1]}
    meta = {}
    for method in SOLO_SETTINGS:
        solo_recipe(up, method, arrays, meta, views)
    for method in ("li_simsiam", "li_mocov3", "li_byol"):
        li_recipe(up, method, arrays, meta, views)
    directclr_recipe(up, arrays, meta, views)
    optimizer_cases(up, arrays, meta)
    schedule_cases(up, arrays, meta)
    import lightly  # the environment's versions, recorded (lightly's code is not used)
    import torchvision
    meta["_provenance"] = {
        "script": "tests/upstream/make_pinned_recipes.py",
        "torch": torch.__version__, "torchvision": torchvision.__version__,
        "lightly": lightly.__version__, "numpy": np.__version__,
        "python": sys.version.split()[0],
        "commits": {"vturrisi/solo-learn": [SOLO, SOLO_MOCOV3],
                    "Lightning-Universe/lightning-bolts": BOLTS,
                    "alexlioralexli/noncontrastive-ssl": LI,
                    "facebookresearch/directclr": DIRECTCLR,
                    "facebookresearch/moco-v3": MOCOV3},
        "widths": {"input": IN, "representation": REP, "hidden": HIDDEN, "output": OUT,
                   "predictor_hidden": PRED, "batch": BATCH},
    }
    np.savez_compressed(args.out + ".npz", **arrays)
    with open(args.out + ".json", "w") as stream:
        json.dump(meta, stream, indent=1, sort_keys=True)
    print(f"wrote {args.out}.npz ({len(arrays)} arrays) and {args.out}.json")


if __name__ == "__main__":
    main()
