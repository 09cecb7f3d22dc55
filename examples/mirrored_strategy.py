"""Training under `tf.distribute.MirroredStrategy`: every local GPU, or CPUs.

    python examples/mirrored_strategy.py            # all local GPUs
    python examples/mirrored_strategy.py --tiny     # 2 logical CPUs, seconds

Build and compile the model inside `strategy.scope()`; `fit` then splits
each global batch over the replicas, and the objective gathers the
embeddings of all of them (gradients flow back through the gather), so the
loss equals the one-device loss on the global batch.
"""

import argparse

import tensorflow as tf


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch_size", type=int, default=512, help="the global batch")
    parser.add_argument("--tiny", action="store_true", help="2 logical CPUs, 1 short epoch")
    args = parser.parse_args(argv)
    if args.tiny:
        # Two logical devices on the CPU (before TensorFlow initialises it).
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        args.epochs, args.batch_size = 1, 64
    import keras

    import keras_collapse as kc

    keras.utils.set_random_seed(0)
    images, _ = kc.data.digits()
    images = images[:512] if args.tiny else images
    devices = None if not args.tiny else [d.name for d in tf.config.list_logical_devices("CPU")]
    strategy = tf.distribute.MirroredStrategy(devices)
    print(f"{strategy.num_replicas_in_sync} replicas")
    with strategy.scope():
        model = kc.models.SiameseModel(kc.encoders.convnet((8, 8, 1), width=16),
                                       head=kc.layers.ProjectionHead(32, hidden_dims=(128,)))
        model.compile(optimizer="adam", loss=kc.losses.NTXent(0.2))
    augment = kc.data.RandomResizedCrop(8, scale=(0.5, 1.0))
    history = model.fit(kc.data.two_views(images, augment, batch_size=args.batch_size, seed=0),
                        epochs=args.epochs, verbose=2)
    print(f"final loss {history.history['loss'][-1]:.3f}")


if __name__ == "__main__":
    main()
