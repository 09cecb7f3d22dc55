"""Paper-scale image SSL from a gin file: CIFAR-10 and ImageNet recipes (solo-learn, Li et al., Jing et al.).

One protocol for every config under ``gin/paper_scale/``: an encoder, head,
predictor, objective, optimizer (with its schedule) and augmentations bound
in gin as library objects; images streamed from TFDS
(:func:`keras_collapse.data.tfds_views`, iid or in one of Li et al.'s
orderings); ``SiameseModel.fit`` with :class:`~keras_collapse.callbacks.OnlineKNN`
(weighted kNN, k = 200, τ = 0.1, optionally a linear probe),
:class:`~keras_collapse.callbacks.SpectrumLogger`, ``NonFiniteGuard``,
Keras' ``BackupAndRestore`` (a killed run resumes at its last epoch, in the
same data ordering), ``CSVLogger`` and ``TensorBoard``; then, if bound, the
papers' offline linear evaluation of the frozen encoder
(:func:`keras_collapse.evaluation.linear_evaluation`). Results: the final and
best kNN accuracy and the linear evaluation's top-1 beside the reference
number the config names, the training curves, the saved model.
"""

from __future__ import annotations

import json
import os

import gin
import keras
import numpy as np
import tensorflow as tf
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import keras_collapse as kc
from keras_collapse import _checks
from keras_collapse.data.augment import to_float
from keras_collapse.guards import describe_loss


def _resume_epoch(backup_dir):
    """The epoch `keras.callbacks.BackupAndRestore` will resume at (0 if none).

    Read from its `training_metadata.json` (or the `.bkp` copy it restores
    first), so the data pipeline starts at that epoch's subset of the ordering.
    """
    for name in ("training_metadata.json.bkp", "training_metadata.json"):
        path = os.path.join(backup_dir, name)
        if os.path.exists(path):
            with open(path) as stream:
                return int(json.load(stream)["epoch"])
    return 0


def _labelled(dataset, split, data_dir, preprocess, max_examples):
    """`(float image, label)` examples of a split, preprocessed, for OnlineKNN."""
    data = kc.data.tfds(dataset, split=split, data_dir=data_dir, max_examples=max_examples)

    def prepare(image, label):
        if preprocess is not None:
            image = preprocess(image)
        return to_float(image), label

    return data.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)


def _figure(history):
    fig = Figure(figsize=(9.0, 3.4))
    FigureCanvasAgg(fig)
    ax_loss, ax_knn = fig.subplots(1, 2)
    epochs = np.arange(1, len(history["loss"]) + 1)
    ax_loss.plot(epochs, history["loss"], color="C0")
    ax_loss.set(xlabel="epoch", ylabel="training loss", title="objective")
    knn = [np.nan if v is None else v for v in history.get("knn_accuracy", [])]
    if knn:
        ax_knn.plot(epochs[:len(knn)], knn, "o-", color="C1", label="kNN top-1 (k = 200)")
    probe = history.get("linear_probe_accuracy")
    if probe:
        ax_knn.plot(epochs[:len(probe)], probe, "s--", color="C2", label="linear probe")
    ax_knn.set(xlabel="epoch", ylabel="test accuracy", title="frozen representation")
    if ax_knn.lines:
        ax_knn.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def _linear_evaluation(study, evaluate, encoder, dataset, splits, data_dir, preprocessing,
                       max_examples):
    """Run the bound offline linear evaluation on the trained encoder (read
    back from the saved model when training ran in an earlier process): the
    training split through the training preprocessing (at most
    `max_examples`), the whole test split through the evaluation one."""
    import tensorflow_datasets

    study.log("offline linear evaluation of the frozen encoder")
    num_classes = tensorflow_datasets.builder(dataset, data_dir=data_dir).info.features[
        "label"].num_classes
    train = _labelled(dataset, splits[0], data_dir, preprocessing[0], max_examples)
    test = _labelled(dataset, splits[1], data_dir, preprocessing[1], None)
    with study.scope():
        if encoder is None:
            encoder = keras.saving.load_model(study.model_path("pretrain")).encoder
        result = evaluate(encoder, train, test, num_classes=num_classes)
    return {"accuracy": result.accuracy, "history": result.history}


@gin.configurable
def pretrain(study, encoder=gin.REQUIRED, loss=gin.REQUIRED, optimizer=gin.REQUIRED,
             augment_a=gin.REQUIRED, augment_b=None, head=None, predictor=None,
             dataset="cifar10", data_dir=None, train_split="train", test_split="test",
             preprocess=None, eval_preprocess=None, ordering=None, batch_size=256, epochs=1,
             steps_per_epoch=None, shuffle_buffer=10_000, max_examples=None, knn_k=200,
             knn_temperature=0.1, knn_every_n_epochs=1, knn_max_train_examples=None,
             knn_max_test_examples=None, linear_probe=False, spectrum_every_n_epochs=10,
             steps_per_execution=1, jit_compile=False, policy=None, linear_evaluation=None,
             reference=""):
    """Pre-train a Siamese model on a TFDS image dataset; report kNN accuracy.

    Args:
        study: The :class:`~keras_collapse.studies._harness.Study`.
        encoder: Factory of the encoder (e.g. ``@encoders.resnet``, its
            arguments bound in gin), called under the study's strategy.
        loss: The objective (e.g. ``@losses.NTXent()``).
        optimizer: Factory of the optimizer (e.g. ``@optimizers.LARS``, with
            ``optimizers.LARS.learning_rate = @schedules.CosineDecay()``).
        augment_a: View-a augmentation ``(batch, seed) -> batch``.
        augment_b: View-b augmentation, ``None`` for ``augment_a``.
            Defaults to ``None``.
        head: Factory of the projector, or ``None``. Defaults to ``None``.
        predictor: Factory of the predictor (SimSiam, BYOL, MoCo v3), or
            ``None``. Defaults to ``None``.
        dataset: TFDS name. Defaults to ``"cifar10"``.
        data_dir: Directory of the prepared TFDS data, ``None`` for TFDS'
            default. Defaults to ``None``.
        train_split: Split trained on (and the kNN memory bank). Defaults to
            ``"train"``.
        test_split: Split of the kNN / probe test set. Defaults to ``"test"``.
        preprocess: Per-example training preprocessing before batching
            (ImageNet: ``@data.CenterCrop()``), or ``None``. Defaults to ``None``.
        eval_preprocess: Per-example preprocessing of the evaluation images,
            or ``None``. Defaults to ``None``.
        ordering: A data ordering (``@data.SinglePass()``, …) or ``None`` for
            iid. Defaults to ``None``.
        batch_size: Global batch. Defaults to ``256``.
        epochs: Epochs. Defaults to ``1``.
        steps_per_epoch: Batches per epoch, ``None`` for the split's size
            over the batch. Defaults to ``None``.
        shuffle_buffer: Shuffle buffer (examples). Defaults to ``10_000``.
        max_examples: Train on the first ``max_examples`` of the split only
            (tests), or ``None``. Defaults to ``None``.
        knn_k, knn_temperature, knn_every_n_epochs: kNN evaluation.
            Defaults to ``200``, ``0.1``, ``1``.
        knn_max_train_examples, knn_max_test_examples: Caps on the kNN sets,
            or ``None``. Defaults to ``None``.
        linear_probe: Also fit a logistic-regression probe on the frozen
            features at each evaluation. Defaults to ``False``.
        spectrum_every_n_epochs: SpectrumLogger period. Defaults to ``10``.
        steps_per_execution: Passed to ``compile``. Defaults to ``1``.
        jit_compile: Passed to ``compile``. Defaults to ``False``.
        policy: Keras mixed-precision policy (``"mixed_float16"``,
            ``"mixed_bfloat16"``) or ``None`` for float32. Defaults to ``None``.
        linear_evaluation: Offline linear evaluation run once after training,
            called as ``linear_evaluation(encoder, train, test,
            num_classes=...)`` on the saved encoder with the training split
            (through ``preprocess``) and the test split (through
            ``eval_preprocess``), e.g. ``@evaluation.linear_evaluation`` with
            its recipe bound; or ``None``. Defaults to ``None``.
        reference: The number this config should reach and its protocol,
            printed beside the result. Defaults to ``""``.
    """
    epochs = _checks.positive_int("epochs", epochs)
    batch_size = _checks.positive_int("batch_size", batch_size)
    backup_dir = os.path.join(study.output_dir, "backup")
    initial_epoch = _resume_epoch(backup_dir)
    if initial_epoch >= epochs:
        initial_epoch = epochs - 1  # finished: Keras' callback ends at once
    train = kc.data.tfds_views(
        dataset, augment_a, augment_b, batch_size=batch_size, num_epochs=epochs,
        steps_per_epoch=steps_per_epoch, ordering=ordering, split=train_split,
        data_dir=data_dir, preprocess=preprocess, shuffle_buffer=shuffle_buffer,
        seed=study.seed, initial_epoch=initial_epoch, max_examples=max_examples)
    steps_per_epoch = int(train.cardinality()) // (epochs - initial_epoch)
    test = _labelled(dataset, test_split, data_dir, eval_preprocess, knn_max_test_examples)
    bank = _labelled(dataset, train_split, data_dir, eval_preprocess,
                     knn_max_train_examples or max_examples)
    knn = kc.callbacks.OnlineKNN(bank, test, k=knn_k, temperature=knn_temperature,
                                 every_n_epochs=knn_every_n_epochs, linear_probe=linear_probe,
                                 batch_size=min(batch_size, 512),
                                 log_dir=study.tensorboard_dir("knn"))

    trained = {}  # the encoder just trained, for the linear evaluation

    def run():
        previous = keras.mixed_precision.global_policy().name
        if policy is not None:
            keras.mixed_precision.set_global_policy(policy)
        try:
            with study.scope():
                model = kc.models.SiameseModel(
                    encoder(), head=None if head is None else head(),
                    predictor=None if predictor is None else predictor())
                model.compile(optimizer=optimizer(), loss=loss,
                              steps_per_execution=steps_per_execution, jit_compile=jit_compile)
            callbacks = [
                kc.guards.NonFiniteGuard(),
                keras.callbacks.BackupAndRestore(backup_dir),
                knn,
                kc.callbacks.SpectrumLogger(test.map(lambda x, y: x).take(2048),
                                            study.tensorboard_dir("spectra"),
                                            every_n_epochs=spectrum_every_n_epochs),
                keras.callbacks.CSVLogger(os.path.join(study.output_dir, "history.csv"),
                                          append=initial_epoch > 0),
                keras.callbacks.TensorBoard(study.tensorboard_dir("train")),
                study.progress("pretrain"),  # a line every ~10 s within long epochs
            ]
            study.log(f"training {epochs} epochs of {steps_per_epoch} steps "
                      f"(from epoch {initial_epoch})")
            history = model.fit(train, epochs=epochs, steps_per_epoch=steps_per_epoch,
                                callbacks=callbacks, verbose=2)
            os.makedirs(os.path.dirname(study.model_path("pretrain")), exist_ok=True)
            model.save(study.model_path("pretrain"))
            trained["encoder"] = model.encoder
        finally:
            keras.mixed_precision.set_global_policy(previous)
        return {"history": history.history, "initial_epoch": initial_epoch,
                "knn_seconds": knn.last_seconds,
                "parameters": int(sum(np.prod(w.shape) for w in model.encoder.trainable_weights))}

    result = study.unit("pretrain", run)
    history = result["history"]
    linear = None
    if linear_evaluation is not None:
        linear = study.unit("linear_evaluation", lambda: _linear_evaluation(
            study, linear_evaluation, trained.get("encoder"), dataset, (train_split, test_split),
            data_dir, (preprocess, eval_preprocess), max_examples))["accuracy"]
    knn_values = [v for v in history.get("knn_accuracy", []) if v is not None]
    final = knn_values[-1] if knn_values else None
    best = max(knn_values) if knn_values else None
    study.measurements.update({"final_knn_accuracy": final, "best_knn_accuracy": best,
                               "linear_evaluation_accuracy": linear,
                               "epochs_run": len(history["loss"]),
                               "encoder_parameters": result["parameters"]})
    rows = [["kNN top-1 (k = %d, τ = %g), last / best" % (knn_k, knn_temperature),
             "n/a" if final is None else f"{final:.4f} / {best:.4f}", reference or "not stated"]]
    if history.get("linear_probe_accuracy"):
        rows.append(["logistic-regression probe on frozen features, last",
                     f"{history['linear_probe_accuracy'][-1]:.4f}", reference or "not stated"])
    if linear is not None:
        rows.append(["offline linear evaluation of the frozen encoder, top-1",
                     f"{linear:.4f}", reference or "not stated"])
    rows.append(["training loss, first / last epoch",
                 f"{history['loss'][0]:.4f} / {history['loss'][-1]:.4f}", "—"])
    study.table("Result beside the reference", ["measure", "this run", "reference"], rows)
    study.table("Set-up", ["setting", "value"], [
        ["data", f"TFDS {dataset} ({train_split}; test {test_split})"
                 + (f", first {max_examples} examples" if max_examples else "")],
        ["ordering", "iid (multiple pass)" if ordering is None else repr(ordering)],
        ["encoder", f"{result['parameters']:,} trainable parameters"],
        ["objective", describe_loss(loss)],
        ["batch / epochs / steps per epoch", f"{batch_size} / {epochs} / {steps_per_epoch}"],
        ["precision", policy or "float32"],
    ])
    study.figure(_figure(history), "curves.png",
                 "Training loss and kNN accuracy of the frozen encoder per epoch.")
