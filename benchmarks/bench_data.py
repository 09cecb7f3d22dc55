"""Throughput of the two-view SimCLR pipeline vs a SimCLR training step.

The issue asks that, for 32x32 RGB images, the augmentation pipeline deliver at
least twice the images per second that a SimCLR training step of a small
ResNet consumes on this machine (both counted over both views).
"""

from __future__ import annotations

import time

import keras
import numpy as np
import tensorflow as tf

from keras_collapse import data as kd

_SIZES = {"tiny": dict(n=128, batch=32, steps=3), "full": dict(n=4096, batch=256, steps=12)}


def _nt_xent():
    """``kc.losses.NTXent`` when available, else a minimal local NT-Xent."""
    try:
        from keras_collapse.losses import NTXent

        return NTXent(temperature=0.5)
    except ImportError:
        def nt_xent(z_a, z_b, temperature=0.5):
            z = tf.math.l2_normalize(tf.concat([z_a, z_b], 0), axis=1)
            n = tf.shape(z_a)[0]
            logits = tf.matmul(z, z, transpose_b=True) / temperature
            logits -= 1e9 * tf.eye(2 * n)
            labels = tf.concat([tf.range(n, 2 * n), tf.range(n)], 0)
            return tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))

        return nt_xent


def _small_resnet():
    """Two residual stages (32, 64 channels) and a 128-d projection."""
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
    for filters, stride in ((32, 1), (64, 2)):
        shortcut = keras.layers.Conv2D(filters, 1, strides=stride)(x)
        y = keras.layers.Conv2D(filters, 3, strides=stride, padding="same")(x)
        y = keras.layers.ReLU()(keras.layers.BatchNormalization()(y))
        y = keras.layers.Conv2D(filters, 3, padding="same")(y)
        x = keras.layers.ReLU()(keras.layers.BatchNormalization()(y) + shortcut)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(128, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(128)(x))


def _pipeline_rate(images, batch, steps):
    ds = kd.two_views(images, kd.simclr_augment(32), batch_size=batch, seed=0).repeat()
    it = iter(ds)
    next(it)  # warm-up: tracing and first batch
    start = time.perf_counter()
    for _ in range(steps):
        ((a, b),) = next(it)
    _ = a.numpy(), b.numpy()
    elapsed = time.perf_counter() - start
    return 2 * batch * steps / elapsed, elapsed


def _train_rate(batch, steps):
    keras.utils.set_random_seed(0)
    model = _small_resnet()
    loss_fn = _nt_xent()
    optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
    rng = np.random.default_rng(0)
    view_a = tf.constant(rng.random((batch, 32, 32, 3), np.float32))
    view_b = tf.constant(rng.random((batch, 32, 32, 3), np.float32))

    @tf.function
    def step(a, b):
        with tf.GradientTape() as tape:
            loss = loss_fn(model(a, training=True), model(b, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    step(view_a, view_b).numpy()  # warm-up: tracing
    start = time.perf_counter()
    for _ in range(steps):
        loss = step(view_a, view_b)
    loss.numpy()
    elapsed = time.perf_counter() - start
    return 2 * batch * steps / elapsed, elapsed


def run(size="full"):
    """Measure both rates and return one benchmark row (see benchmarks/README.md)."""
    cfg = _SIZES[size]
    images = np.random.default_rng(0).integers(0, 256, (cfg["n"], 32, 32, 3), np.uint8)
    pipe_rate, pipe_s = _pipeline_rate(images, cfg["batch"], cfg["steps"])
    train_rate, train_s = _train_rate(cfg["batch"], cfg["steps"])
    return [{
        "group": "data",
        "name": "simclr two-view pipeline vs small-ResNet SimCLR step (32x32 RGB)",
        "ratio": pipe_rate / train_rate,
        "target": 2.0,
        "better": "higher",  # a lower bound: the pipeline must be >= 2x the step
        "detail": (
            f"pipeline {pipe_rate:.0f} img/s ({cfg['steps']} batches of 2x{cfg['batch']} "
            f"in {pipe_s:.2f}s); train step {train_rate:.0f} img/s ({cfg['steps']} steps "
            f"of 2x{cfg['batch']} in {train_s:.2f}s); {size}"
        ),
    }]
