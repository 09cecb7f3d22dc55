"""Stop training at the first non-finite loss, saying where and why.

Keras' own ``keras.callbacks.TerminateOnNaN`` only stops. :class:`NonFiniteGuard`
stops *and* raises :class:`NonFiniteLossError` from ``fit`` with a message naming
the step, the objective and its settings, and the likely cause read from the
run so far (a loss that blew up first: the learning rate; a low-precision
model with a small temperature; embeddings that shrank to zero norm).
"""

from __future__ import annotations

import logging
import math

import keras
import numpy as np

from keras_collapse import _checks

_LOGGER = logging.getLogger(__name__)

#: The loss growing by more than this factor before turning NaN/Inf is read as
#: a learning rate too large (divergence), not as a bad input.
GROWTH_FACTOR = 1e3
#: Temperatures at or below this are called too small for float16/bfloat16.
SMALL_TEMPERATURE = 0.05
#: A probe embedding norm below this fraction of its first value is "zero norm".
ZERO_NORM_RATIO = 1e-4
_LOW_PRECISION = ("float16", "bfloat16")
_LOSS_BASE_KEYS = ("name", "reduction", "dtype")


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN/Inf loss (or probe embedding).

    Raised by :class:`NonFiniteGuard` out of ``model.fit``.

    Attributes:
        step: 1-based global training step (optimizer step count, so it keeps
            counting across ``fit`` calls and resumed runs).
        epoch: 1-based epoch (as in Keras' progress bar).
        batch: 1-based batch within that epoch.
        loss: the non-finite value logged (NaN or ±Inf), or ``None`` when the
            probe embeddings failed first.
        objective: the compiled objective, e.g. ``"VICReg(invariance_weight=25.0, ...)"``.
        causes: list of the likely causes, most likely first.
    """

    def __init__(self, message, step=None, epoch=None, batch=None, loss=None,
                 objective=None, causes=()):
        super().__init__(message)
        self.step = step
        self.epoch = epoch
        self.batch = batch
        self.loss = loss
        self.objective = objective
        self.causes = list(causes)


class NonFiniteGuard(keras.callbacks.Callback):
    """Stops ``fit`` at the first NaN/Inf batch loss and explains it.

    After every training batch it reads ``logs["loss"]`` (the running epoch
    mean Keras logs, which turns non-finite at the first bad batch). On a
    NaN/Inf it sets ``model.stop_training = True`` and, by default, raises
    :class:`NonFiniteLossError` so ``fit`` ends with a message such as::

        Non-finite training loss (nan) at step 7 (epoch 1, batch 7).
        Objective: VICReg(invariance_weight=25.0, variance_weight=25.0,
        covariance_weight=1.0, epsilon=0.0001); optimizer SGD, learning rate 10.0.
        Likely cause: learning rate too large: the loss grew by ×3e+07 (from
        12.1 at step 1 to 3.6e+08 at step 6) before becoming non-finite. ...

    Causes checked, most likely first: the loss growing by more than
    ``growth_factor`` before failing (learning rate too large); a
    float16/bfloat16 model with a temperature ≤ 0.05; probe embeddings whose
    norm fell to ~0 (needs ``probe_data``); a failing batch of a single
    example (a :class:`~keras_collapse.models.SiameseModel` records its batch
    sizes; for other models the last batch of an epoch is named as
    suspect); and otherwise non-finite inputs. The per-batch losses are
    estimated from Keras' running epoch mean (``b·m_b − a·m_a`` over the
    ``b − a`` batches between call-backs, exact for equal batch sizes).

    The loss can stay finite while the weights are not: where the forward
    pass drops a NaN input that the gradient keeps (oneDNN's fused
    convolution + ReLU on CPUs where TensorFlow enables oneDNN, or a model
    that masks non-finite activations with ``where``), one NaN pixel leaves
    the kernel NaN and the loss finite. With ``check_weights`` (the default) the guard also checks
    every weight at the end of each epoch and fails the same way, naming the
    non-finite weights.

    Steps are optimizer steps: they continue across ``fit`` calls, and under
    ``compile(steps_per_execution=k)`` (one call-back per ``k`` steps) the
    step named is the last of the failing execution.

    With ``probe_data`` the model also embeds that small batch every
    ``every_n_steps`` steps (``model.embed`` of a
    :class:`~keras_collapse.models.SiameseModel`, else ``model(x)``) and
    fails the same way if the embeddings are NaN/Inf while the loss is still
    finite.

    Not added by ``SiameseModel`` itself: pass it in ``callbacks``, first in
    the list so that the other callbacks never see the NaN step's logs.

    Args:
        probe_data: optional small batch of single-view inputs
            `(num_probe, ...)` checked every ``every_n_steps`` steps.
            Defaults to `None`.
        every_n_steps: probe cadence in steps. Defaults to `50`.
        raise_error: raise :class:`NonFiniteLossError` (``True``) or only stop
            training, log the message as a warning and keep the error in
            ``guard.error`` (``False``). Defaults to `True`.
        growth_factor: loss growth (max |loss| / first |loss|) read as
            divergence. Defaults to `1e3`.
        check_weights: check that every weight is finite at the end of each
            epoch. Defaults to `True`.

    Example:

    >>> import keras, numpy as np
    >>> import keras_collapse as kc
    >>> keras.utils.set_random_seed(0)
    >>> encoder = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])
    >>> model = kc.models.SiameseModel(encoder)
    >>> model.compile(optimizer=keras.optimizers.SGD(1e3), loss=kc.losses.VICReg())
    >>> x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    >>> try:
    ...     model.fit((x, x + 0.1), epochs=20, batch_size=16, verbose=0,
    ...               callbacks=[kc.guards.NonFiniteGuard()])
    ... except kc.guards.NonFiniteLossError as error:
    ...     print("learning rate too large" in str(error), error.step > 1)
    True True

    Reference: the divergence it reports is the usual failure of
    redundancy-reduction objectives at large learning rates (VICReg,
    arXiv 2105.04906) and of contrastive ones at small temperatures in
    low precision (SimCLR, arXiv 2002.05709).
    """

    def __init__(self, probe_data=None, every_n_steps=50, raise_error=True,
                 growth_factor=GROWTH_FACTOR, check_weights=True):
        super().__init__()
        self.check_weights = bool(check_weights)
        self.every_n_steps = _checks.positive_int("every_n_steps", every_n_steps)
        self.raise_error = bool(raise_error)
        self.growth_factor = _checks.positive_float("growth_factor", growth_factor)
        if probe_data is not None:
            probe_data = np.asarray(keras.ops.convert_to_numpy(probe_data))
            if probe_data.ndim < 1 or probe_data.shape[0] == 0:
                raise _checks.invalid(
                    "probe_data", "a non-empty batch of inputs (num_probe, ...)",
                    f"array of shape {probe_data.shape}")
        self.probe_data = probe_data
        self.error = None
        self._reset()

    # -- Keras hooks ---------------------------------------------------------

    def _reset(self):
        self._step = 0
        self._epoch_start = 0
        self._epoch = 0
        self._previous = None  # (batch, running mean) at the previous call-back
        self._first = None  # (step, loss) of the first finite batch loss
        self._largest = None  # (step, loss) of the largest |batch loss|
        self._last = None  # (step, loss) of the last finite batch loss
        self._norms = []  # (step, mean probe embedding norm)

    def on_train_begin(self, logs=None):
        self._reset()
        self.error = None
        optimizer = getattr(self.model, "optimizer", None)
        try:
            self._step = int(keras.ops.convert_to_numpy(optimizer.iterations))
        except (AttributeError, TypeError, ValueError):
            self._step = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._epoch_start = self._step
        self._previous = None

    def on_train_batch_end(self, batch, logs=None):
        # `batch` is the last batch of the call-back's execution (Keras calls
        # back once per `steps_per_execution` steps).
        before, self._step = self._step, self._epoch_start + batch + 1
        value = None if not logs else logs.get("loss")
        if value is None:
            return
        mean = float(keras.ops.convert_to_numpy(value))
        if not math.isfinite(mean):
            self._fail(batch, mean)
            return
        self._record(batch, mean)
        if (self.probe_data is not None
                and self._step // self.every_n_steps > before // self.every_n_steps):
            self._check_probe(batch)

    def on_epoch_end(self, epoch, logs=None):
        if self.check_weights and self.error is None:
            self._check_weights(epoch)

    # -- bookkeeping ---------------------------------------------------------

    def _record(self, batch, mean):
        """Per-batch loss recovered from Keras' running mean of the epoch."""
        if self._previous is None:
            loss = mean
        else:
            last, previous_mean = self._previous
            loss = ((batch + 1) * mean - (last + 1) * previous_mean) / (batch - last)
        self._previous = (batch, mean)
        point = (self._step, loss)
        if self._first is None:
            self._first = point
        if self._largest is None or abs(loss) > abs(self._largest[1]):
            self._largest = point
        self._last = point

    def _check_probe(self, batch):
        z = keras.ops.convert_to_numpy(self._embed(self.probe_data)).astype(np.float64)
        bad = z.size - np.count_nonzero(np.isfinite(z))
        if bad:
            self._fail(batch, None, note=f"{bad} of {z.size} probe embedding values are "
                                         "NaN/Inf while the loss was still finite")
            return
        norms = np.linalg.norm(z.reshape(z.shape[0], -1), axis=1)
        self._norms.append((self._step, float(np.mean(norms))))

    def _check_weights(self, epoch):
        bad = [(getattr(w, "path", None) or w.name, int(np.size(v) - np.count_nonzero(np.isfinite(v))))
               for w in self.model.weights
               for v in [np.asarray(keras.ops.convert_to_numpy(w))]
               if v.dtype.kind == "f" and not np.isfinite(v).all()]
        if not bad:
            return
        names = ", ".join(name for name, _ in bad[:3]) + (", ..." if len(bad) > 3 else "")
        last = "" if self._last is None else f" (last batch loss {self._last[1]:.4g})"
        self._fail(None, None, note=(
            f"{len(bad)} of {len(self.model.weights)} weight tensors hold NaN/Inf ({names}) "
            f"while the training loss stayed finite{last}"), epoch=epoch,
            causes=[
                "a NaN/Inf in the inputs that the forward pass drops but the gradient "
                "keeps (oneDNN's fused convolution + ReLU does, on CPUs where TensorFlow "
                "enables oneDNN; so does masking with `where`), so one NaN pixel makes "
                "the weights NaN while the loss stays finite. Check "
                "the data (np.isfinite(x).all(), or tf.debugging.check_numerics in the "
                "pipeline)."])

    def _embed(self, x):
        embed = getattr(self.model, "embed", None)
        if callable(embed):
            return embed(x, training=False)
        return self.model(x, training=False)

    # -- the report ----------------------------------------------------------

    def _fail(self, batch, loss, note=None, epoch=None, causes=None):
        self.model.stop_training = True
        objective = describe_objective(self.model)
        causes = (causes or []) + self._causes(batch, fallback=not causes)
        if loss is not None:
            what = f"Non-finite training loss ({loss}) at step {self._step}"
        elif batch is None:
            what = f"Non-finite weights at the end of epoch {epoch + 1}, step {self._step}"
        else:
            what = f"Non-finite probe embeddings at step {self._step}"
        where = "" if batch is None else f" (epoch {self._epoch + 1}, batch {batch + 1})"
        lines = [f"{what}{where}" + (f": {note}." if note else "."),
                 f"Objective: {objective}; {describe_optimizer(self.model)}.",
                 "Likely cause: " + causes[0]]
        lines += [f"Also possible: {cause}" for cause in causes[1:]]
        lines.append(f"Training was stopped at step {self._step}; the weights now hold "
                     "the diverged values, so restart from a checkpoint.")
        message = "\n".join(lines)
        self.error = NonFiniteLossError(
            message, step=self._step, epoch=self._epoch + 1,
            batch=None if batch is None else batch + 1, loss=loss,
            objective=objective, causes=causes)
        if self.raise_error:
            raise self.error
        _LOGGER.warning("NonFiniteGuard: %s", message)

    def _causes(self, batch=None, fallback=True):
        causes = []
        if (self._first is not None and self._largest is not None
                and abs(self._largest[1]) > self.growth_factor * max(abs(self._first[1]), 1e-12)):
            ratio = abs(self._largest[1]) / max(abs(self._first[1]), 1e-12)
            causes.append(
                f"learning rate too large: the loss grew by ×{ratio:.0e} (from "
                f"{self._first[1]:.4g} at step {self._first[0]} to {self._largest[1]:.4g} "
                f"at step {self._largest[0]}) before becoming non-finite. Lower the "
                "learning rate (e.g. 10×), add warm-up, or clip gradients "
                "(optimizer clipnorm=1.0).")
        temperature = getattr(_objective(self.model), "temperature", None)
        precision = _low_precision(self.model)
        if temperature is not None and precision and temperature <= SMALL_TEMPERATURE:
            causes.append(
                f"temperature {temperature:g} is too small for {precision} embeddings: "
                f"logits z·z'/τ reach {1 / temperature:.0f}× the similarity and overflow or "
                "lose all precision in the head; raise the temperature (≥ 0.1) or keep "
                "the head in float32 (dtype='float32').")
        if len(self._norms) >= 1:
            first, last = self._norms[0], self._norms[-1]
            if last[1] <= ZERO_NORM_RATIO * max(first[1], 1e-30) or last[1] < 1e-12:
                causes.append(
                    f"embeddings collapsed to zero norm: the mean probe embedding norm fell "
                    f"from {first[1]:.3g} at step {first[0]} to {last[1]:.3g} at step "
                    f"{last[0]}; normalised objectives then divide by ~0. Use a head "
                    "with BatchNorm, a variance term (VICReg) or a larger weight decay "
                    "balance.")
        size = getattr(self.model, "last_batch_size", None)
        if _small_batch(size):
            causes.append(
                f"the failing batch held {size} example: objectives that use the other "
                "examples or batch statistics (a variance, a covariance) are undefined "
                "on one. Batch the data with drop_remainder=True, or choose a batch size "
                "that leaves at least 2 examples in the last batch.")
        elif size is None and batch is not None and batch + 1 == (self.params or {}).get("steps"):
            causes.append(
                f"the failing batch is the last of the epoch (batch {batch + 1}), which "
                "is smaller than the others when the data's size is not a multiple of "
                "the batch size: batch with drop_remainder=True to rule this out.")
        every = int(getattr(self.model, "steps_per_execution", 1) or 1)
        if self._largest is None and every > 1 and batch is not None:
            causes.append(
                f"the loss was already non-finite at the first call-back, after "
                f"{every} steps (compile(steps_per_execution={every}) calls back every "
                f"{every} steps), so no finite loss was seen to judge a blow-up by; a "
                "learning rate too large is the usual cause: rerun with "
                "steps_per_execution=1 to see the loss grow, or lower the learning rate.")
        if not causes and fallback:
            causes.append(
                "no blow-up was seen before the failure, so the batch itself (or the "
                "weights) may hold NaN/Inf: check the inputs, e.g. with "
                "tf.debugging.check_numerics in the augmentation or "
                "np.isfinite(x).all(), and the loss settings.")
        return causes


def _small_batch(size):
    """Whether a recorded batch size is one too small for batch statistics."""
    return size is not None and size < 2


def _objective(model):
    """The compiled objective: SiameseModel's SSL loss, or ``model.loss``."""
    return getattr(model, "_ssl_loss", None) or getattr(model, "loss", None)


def describe_objective(model):
    """``"NTXent(temperature=0.1)"`` for the loss compiled into ``model``.

    Args:
        model: a compiled Keras model.

    Returns:
        str: the class name and the settings from ``get_config`` (without
        ``name``/``reduction``/``dtype``), or the ``repr`` of a non-Loss.

    Example:

    >>> import keras
    >>> import keras_collapse as kc
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    >>> model.compile("sgd", loss=kc.losses.NTXent(0.1))
    >>> describe_objective(model)
    'NTXent(temperature=0.1, scale=1.0)'
    """
    loss = _objective(model)
    if loss is None:
        return "no compiled loss"
    return describe_loss(loss)


def describe_loss(loss):
    """``"NTXent(temperature=0.1)"``: a loss's class and settings (or a name).

    Args:
        loss: a ``keras.losses.Loss``, a loss name or a callable.

    Returns:
        str: the class name and the settings from ``get_config`` (without
        ``name``/``reduction``/``dtype``), the name of a string loss, or the
        ``__name__`` / ``repr`` of anything else.

    Example:

    >>> import keras_collapse as kc
    >>> describe_loss(kc.losses.BarlowTwins())
    'BarlowTwins(redundancy_weight=0.005, scale=1.0)'
    """
    if isinstance(loss, str):
        return loss
    if isinstance(loss, keras.losses.Loss):
        try:
            config = loss.get_config()
        except (NotImplementedError, TypeError):
            config = {}
        settings = ", ".join(f"{key}={value!r}" for key, value in config.items()
                             if key not in _LOSS_BASE_KEYS)
        return f"{type(loss).__name__}({settings})"
    return getattr(loss, "__name__", repr(loss))


def describe_optimizer(model):
    """``"optimizer SGD, learning rate 0.1"`` (or what can be read of it)."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return "no optimizer"
    text = f"optimizer {type(optimizer).__name__}"
    try:
        rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        text += f", learning rate {rate:g}"
    except (AttributeError, TypeError, ValueError):
        pass
    return text


def _low_precision(model):
    """``"float16"``/``"bfloat16"`` if any layer computes in it, else ``None``."""
    layers = [model]
    flatten = getattr(model, "_flatten_layers", None)
    if callable(flatten):
        layers = list(flatten(include_self=True, recursive=True))
    for layer in layers:
        policy = getattr(layer, "dtype_policy", None)
        dtype = getattr(policy, "compute_dtype", None)
        if dtype in _LOW_PRECISION:
            return dtype
    return None
