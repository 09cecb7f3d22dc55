"""kc.optimizers against values pinned from the upstream PyTorch optimizers
and schedule (tests/upstream/make_pinned_recipes.py): three steps on fixed
arrays with the learning rate changing every step (so the place of the
learning rate relative to the momentum buffer shows), a zero weight (no
adaptation) and a rank-1 weight (excluded):

* `CoupledSGD` = `torch.optim.SGD(momentum=0.9, weight_decay=0.1)`;
* `LARS(rule="solo-learn", clip_lr=True)` = solo-learn's `LARSWrapper`
  (fca55e3) and its `LARS(clip_lars_lr=True)` (bbf2d7e);
  `clip_lr=False` = `LARS(clip_lars_lr=False)`;
* `LARS(rule="pytorch")` = facebookresearch/moco-v3's `LARS`;
* `schedules.LinearWarmupCosine` = Lightning Bolts' `LinearWarmupCosineAnnealingLR`
  stepped per epoch (solo-learn, July 2021) and per step (June 2022).
"""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_collapse as kc

PINNED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "upstream", "pinned_recipes")
with open(PINNED + ".json") as _stream:
    META = json.load(_stream)
OPT = META["optimizers"]


@pytest.fixture(scope="module")
def pinned():
    with np.load(PINNED + ".npz") as data:
        return dict(data)


def run(optimizer, pinned):
    variables = [keras.Variable(pinned[f"opt/init/{i}"], name=f"v{i}") for i in range(3)]
    for step, lr in enumerate(OPT["lrs"]):
        optimizer.learning_rate = lr
        grads = [tf.constant(pinned[f"opt/grad/{step}/{i}"]) for i in range(3)]
        optimizer.apply_gradients(zip(grads, variables))
    return [v.numpy() for v in variables]


LARS_ARGS = dict(momentum=0.9, weight_decay=OPT["weight_decay"]["lars"],
                 trust_coefficient=OPT["trust_coefficient"])
CASES = {
    "torch_sgd": lambda: kc.optimizers.CoupledSGD(
        0.5, momentum=0.9, weight_decay=OPT["weight_decay"]["torch_sgd"]),
    "solo_wrapper_clip": lambda: kc.optimizers.LARS(0.5, rule="solo-learn", clip_lr=True,
                                                    **LARS_ARGS),
    "solo_lars_clip": lambda: kc.optimizers.LARS(0.5, rule="solo-learn", clip_lr=True,
                                                 **LARS_ARGS),
    "solo_lars_noclip": lambda: kc.optimizers.LARS(0.5, rule="solo-learn", **LARS_ARGS),
    "mocov3_lars": lambda: kc.optimizers.LARS(0.5, rule="pytorch", **LARS_ARGS),
}


@pytest.mark.parametrize("case", list(CASES))
def test_three_steps_equal_the_upstream_optimizer(case, pinned):
    got = run(CASES[case](), pinned)
    for i, value in enumerate(got):
        np.testing.assert_allclose(value, pinned[f"opt/{case}/{i}"], rtol=1e-6, atol=1e-7,
                                   err_msg=f"{case} variable {i}")


def test_the_rules_differ_where_the_upstream_ones_do(pinned):
    """The pinned cases are far enough apart that each rule is pinned: the
    clip changes solo-learn's steps, SimCLR's rule (learning rate inside the
    momentum) is not moco-v3's under a changing learning rate, and
    solo-learn's denominator is not moco-v3's."""
    def gap(a, b):
        return max(np.abs(x - y).max() for x, y in zip(a, b))
    clip, noclip, moco = ([pinned[f"opt/{c}/{i}"] for i in range(3)]
                          for c in ("solo_lars_clip", "solo_lars_noclip", "mocov3_lars"))
    simclr = run(kc.optimizers.LARS(0.5, rule="simclr", **LARS_ARGS), pinned)
    assert gap(clip, noclip) > 1e-3
    assert gap(simclr, moco) > 1e-4
    assert gap(noclip, moco) > 1e-4


@pytest.mark.parametrize("name, steps_per_epoch", [("per_epoch", 195), ("per_step", 1)])
def test_linear_warmup_cosine_equals_lightning_bolts(name, steps_per_epoch, pinned):
    config = META["schedules"][name]
    expected = pinned[f"schedule/{name}"]
    schedule = kc.optimizers.schedules.LinearWarmupCosine(
        config["learning_rate"], config["warmup_epochs"], config["max_epochs"],
        warmup_start_lr=config["warmup_start_lr"], steps_per_epoch=steps_per_epoch)
    got = np.asarray(schedule(tf.range(len(expected)) * steps_per_epoch))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-8)  # float32 cos near π
    if steps_per_epoch > 1:  # constant within an epoch
        assert float(schedule(3 * steps_per_epoch + steps_per_epoch - 1)) == pytest.approx(
            expected[3], rel=1e-6)
