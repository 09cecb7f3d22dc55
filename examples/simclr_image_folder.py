"""SimCLR on a folder of images, then its collapse report.

    python examples/simclr_image_folder.py --images path/to/images --epochs 100

The folder is read as Keras reads it (`keras.utils.image_dataset_from_directory`:
JPEG/PNG/GIF/BMP, subfolders included, labels unused), streamed through
SimCLR's views, and the encoder is a CIFAR-stem ResNet-18 (`--tiny`: a small
convnet, 2 epochs, and a folder of random PNGs when `--images` is not given).
"""

import argparse
import os

import keras
import numpy as np
import tensorflow as tf

import keras_collapse as kc


def random_pngs(directory, count=64, size=(40, 48)):
    """A folder of random PNGs, for trying the script without images."""
    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        image = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        tf.io.write_file(os.path.join(directory, f"{i:03d}.png"), tf.io.encode_png(image))
    return directory


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", help="a folder of images")
    parser.add_argument("--output_dir", default="runs/simclr_images")
    parser.add_argument("--size", type=int, default=32, help="view size in pixels")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--tiny", action="store_true", help="a seconds-long run")
    args = parser.parse_args(argv)
    if args.tiny:
        args.epochs, args.batch_size, args.size = 2, 32, 16
        args.images = args.images or random_pngs(os.path.join(args.output_dir, "images"))
    keras.utils.set_random_seed(0)
    os.makedirs(args.output_dir, exist_ok=True)

    images = keras.utils.image_dataset_from_directory(
        args.images, labels=None, image_size=(2 * args.size, 2 * args.size))
    train = kc.data.two_views(images, kc.data.simclr_augment(args.size, blur_probability=0.0),
                              batch_size=args.batch_size, seed=0)
    shape = (args.size, args.size, 3)
    encoder = (kc.encoders.convnet(shape, width=8) if args.tiny
               else kc.encoders.resnet(18, cifar_stem=True, input_shape=shape))
    model = kc.models.SiameseModel(encoder, head=kc.layers.ProjectionHead(128, hidden_dims=(512,)))
    model.compile(optimizer="adam", loss=kc.losses.NTXent(temperature=0.2))
    model.fit(train, epochs=args.epochs, verbose=2)
    model.save(os.path.join(args.output_dir, "simclr.keras"))

    probe = kc.data.examples_of(images).take(512).batch(128)   # the folder in [0, 1]
    probe = probe.map(lambda x: tf.image.resize(x, (args.size, args.size)))
    for output in ("representation", "embedding"):
        report = kc.metrics.spectrum_report(model, probe, output=output)
        print(f"{output}: effective rank {report.effective_rank:.1f} of "
              f"{len(report.eigenvalues)}, AUC {report.auc:.3f}, "
              f"collapsed dims {report.collapsed_dims}")


if __name__ == "__main__":
    main()
