"""The paper-scale configs (gin/paper_scale/*.gin) against the upstream code.

For each recipe the configured heads, objective and optimizer are built from
the config itself (gin), at the tiny widths of
``tests/upstream/make_pinned_recipes.py``, on a tiny encoder of plain Keras
layers (Dense without bias, BatchNorm, ReLU, standing in for the ResNet), and
loaded with the initial weights the upstream PyTorch code started from. The
loss, every gradient and the weights after each of two optimizer steps
(Keras' `train_on_batch`, one batch per step) must equal the values that code
produced (solo-learn's losses, LARS and momentum updater; torch.optim.SGD;
Li et al.'s builders and LARS; DirectCLR's infoNCE and LARS). The learning
rate is bound to the constant the script used (a value of each recipe's
schedule; the schedules are tested in test_optimizers_pinned.py).

The heads' BatchNorm layers are given PyTorch's ε (1e-5) here: the configs'
heads use Keras' default until the heads take it as an argument (issue 26).
"""

import json
import os

import gin
import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_collapse as kc
from keras_collapse import studies

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PINNED = os.path.join(ROOT, "tests", "upstream", "pinned_recipes")
with open(PINNED + ".json") as _stream:
    META = json.load(_stream)
WIDTHS = META["_provenance"]["widths"]

# method -> (config, extra bindings, projector hidden width, predictor hidden width)
RECIPES = {
    "simclr": ("cifar10_simclr", [], WIDTHS["hidden"], None),
    "simsiam": ("cifar10_simsiam", [], WIDTHS["hidden"], WIDTHS["predictor_hidden"]),
    "byol": ("cifar10_byol", [], WIDTHS["hidden"], WIDTHS["hidden"]),
    "barlow_twins": ("cifar10_barlow_twins", [], WIDTHS["hidden"], None),
    "vicreg": ("cifar10_vicreg", [], WIDTHS["hidden"], None),
    "mocov3": ("cifar10_mocov3", [], WIDTHS["hidden"], WIDTHS["hidden"]),
    "li_simsiam": ("li2022_table2", [], WIDTHS["representation"], WIDTHS["predictor_hidden"]),
    "li_mocov3": ("li2022_single_pass_moco_byol", [], WIDTHS["hidden"], WIDTHS["hidden"]),
    "li_byol": ("li2022_single_pass_moco_byol",
                ["pretrain.loss = @losses.BYOL()",
                 "layers.ProjectionHead.final_batch_norm = False"],
                WIDTHS["hidden"], WIDTHS["hidden"]),
    "directclr": ("jing2022_directclr_imagenet",
                  [f"layers.DirectCLRHead.dim = {META['directclr']['dim']}"], None, None),
}


@pytest.fixture(scope="module")
def pinned():
    with np.load(PINNED + ".npz") as data:
        return dict(data)


def _reference(ref):
    """The object or factory a gin reference stands for (None if unbound)."""
    if ref is None:
        return None
    return ref.scoped_configurable_fn() if ref.evaluate else ref.scoped_configurable_fn


def configured(method):
    """(loss, head, predictor, optimizer) built from the method's config at
    the tiny widths, with the pinned constant learning rate."""
    config, extra, hidden, predictor_hidden = RECIPES[method]
    studies.load_all()
    gin.clear_config()
    path = os.path.join(ROOT, "gin", "paper_scale", config + ".gin")
    gin.parse_config_files_and_bindings([path], extra, skip_unknown=False,
                                        finalize_config=False)
    head_ref = gin.query_parameter("pretrain.head")
    bindings = []
    if "ProjectionHead" in str(head_ref):
        depth = len(gin.query_parameter("layers.ProjectionHead.hidden_dims"))
        bindings += [f"layers.ProjectionHead.output_dim = {WIDTHS['output']}",
                     f"layers.ProjectionHead.hidden_dims = {(hidden,) * depth}"]
    if predictor_hidden is not None:
        bindings += [f"layers.PredictionHead.output_dim = {WIDTHS['output']}",
                     f"layers.PredictionHead.hidden_dim = {predictor_hidden}"]
    optimizer_name = str(gin.query_parameter("pretrain.optimizer")).lstrip("@")
    bindings.append(f"{optimizer_name}.learning_rate = {META[method]['lr']}")
    gin.parse_config(bindings)

    def get(name):
        try:
            return gin.query_parameter(name)
        except ValueError:
            return None

    loss = _reference(get("pretrain.loss"))
    head = _reference(get("pretrain.head"))
    predictor = _reference(get("pretrain.predictor"))
    optimizer = _reference(get("pretrain.optimizer"))
    return loss, head(), None if predictor is None else predictor(), optimizer()


def _weighted_layers(model):
    """The Dense and BatchNormalization layers in order (encoder, head, predictor)."""
    layers = list(model.encoder.layers)
    for part in (model.head, model.predictor):
        layers += list(getattr(part, "blocks", []))
    return [layer for layer in layers
            if isinstance(layer, (keras.layers.Dense, keras.layers.BatchNormalization))]


def _slots(layer):
    """The layer's (weight, bias) variables in the script's order, None if absent."""
    if isinstance(layer, keras.layers.Dense):
        return [layer.kernel, layer.bias if layer.use_bias else None]
    return [layer.gamma if layer.scale else None, layer.beta if layer.center else None]


def _pairs(model, method, pinned, stage):
    """[(keras variable or None, pinned array or None, label)] of one stage."""
    layers = _weighted_layers(model)
    kinds = META[method]["layers"]
    assert len(layers) == len(kinds), (method, [type(x).__name__ for x in layers], kinds)
    out = []
    for i, (layer, kind) in enumerate(zip(layers, kinds)):
        expected = keras.layers.Dense if kind == "linear" else keras.layers.BatchNormalization
        assert isinstance(layer, expected), (method, i, layer, kind)
        for j, variable in enumerate(_slots(layer)):
            out.append((variable, pinned.get(f"{method}/{stage}/{i}/{j}"), f"{i}/{j}"))
    return out


def build(method, pinned):
    loss, head, predictor, optimizer = configured(method)
    w = WIDTHS
    encoder = keras.Sequential([
        keras.Input((w["input"],)), keras.layers.Dense(w["representation"], use_bias=False),
        keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9), keras.layers.ReLU()])
    model = kc.models.SiameseModel(encoder, head=head, predictor=predictor)
    for layer in _weighted_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.epsilon = 1e-5  # PyTorch's (see the module docstring)
    for variable, value, label in _pairs(model, method, pinned, "init"):
        if variable is not None and value is not None:
            variable.assign(value)
        elif value is not None:  # a bias before a BatchNorm: zero upstream, absent here
            assert np.all(value == 0.0), (method, label)
    # Eager: two steps of a tiny model need no tracing. The EMA target copies
    # the loaded weights here.
    model.compile(optimizer=optimizer, loss=loss, run_eagerly=True)
    gin.clear_config()
    return model


def _check(model, method, pinned, stage, initial):
    """Each variable's change since the start against the pinned change:
    within 1e-5 of the change's own size plus 5e-7 (float32 rounding of the
    weights, and the noise of gradients that are zero in exact arithmetic,
    such as a bias before a centring objective); a weight decay of 1e-5 over
    two steps (about 3e-6) shows."""
    for variable, value, label in _pairs(model, method, pinned, stage):
        if variable is None:
            if value is not None:  # the zero bias stays (numerically) zero upstream
                np.testing.assert_allclose(value, 0.0, atol=1e-6, err_msg=f"{method} {label}")
            continue
        change = value - initial[label]
        np.testing.assert_allclose(
            np.asarray(variable) - initial[label], change, rtol=0,
            atol=1e-5 * np.abs(change).max() + 5e-7,
            err_msg=f"{method} {stage} layer/slot {label}: change since the start")


@pytest.mark.parametrize("method", list(RECIPES))
def test_config_equals_upstream_loss_gradients_and_two_steps(method, pinned):
    keras.utils.set_random_seed(0)
    try:
        model = build(method, pinned)
    finally:
        gin.clear_config()
    views = (pinned["views/a"], pinned["views/b"])
    with tf.GradientTape() as tape:
        loss = model.compute_loss(y_pred=model(views, training=True))
    variables = [v for v, value, _ in _pairs(model, method, pinned, "grad") if v is not None]
    grads = dict(zip([id(v) for v in variables], tape.gradient(loss, variables)))
    np.testing.assert_allclose(float(loss), pinned[f"{method}/loss"][0], rtol=1e-5, atol=1e-6)
    for variable, value, label in _pairs(model, method, pinned, "grad"):
        if variable is None or value is None:
            continue  # no counterpart (a bias before a BatchNorm) or frozen upstream
        np.testing.assert_allclose(np.asarray(grads[id(variable)]), value, rtol=1e-4,
                                   atol=1e-6, err_msg=f"{method} gradient {label}")
    initial = {label: value for _, value, label in _pairs(model, method, pinned, "init")}
    losses = []
    for step in (1, 2):
        losses.append(model.train_on_batch(views))
        _check(model, method, pinned, f"step{step}", initial)
    np.testing.assert_allclose(losses, pinned[f"{method}/loss"], rtol=1e-5, atol=1e-6)
