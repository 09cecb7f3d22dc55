"""The collapse report of a saved Keras model, from Python.

    python examples/report_saved_model.py model.keras --npy images.npy

The command `keras-collapse report model.keras --images DIR` does the same
from the shell. Here `kc.metrics.spectrum_report` streams the images through
the model: the representation (encoder output) and the embedding (head
output) of a `SiameseModel`, the output of any other model. Images are given
as the model was trained on them (the package's pipelines: floats in [0, 1]).
`--tiny` saves a small untrained model and random images first.
"""

import argparse
import os

import keras
import numpy as np

import keras_collapse as kc


def tiny_model_and_images(directory):
    os.makedirs(directory, exist_ok=True)
    model = kc.models.SiameseModel(kc.encoders.convnet((16, 16, 3), width=4),
                                   head=kc.layers.ProjectionHead(8, hidden_dims=(32,)))
    model.build((None, 16, 16, 3))
    model.save(os.path.join(directory, "model.keras"))
    images = np.random.default_rng(0).random((200, 16, 16, 3)).astype("float32")
    np.save(os.path.join(directory, "images.npy"), images)
    return os.path.join(directory, "model.keras"), os.path.join(directory, "images.npy")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", help="a saved Keras model")
    parser.add_argument("--npy", help="images (num_examples, height, width, channels) in [0, 1]")
    parser.add_argument("--output_dir", default="runs/report")
    parser.add_argument("--tiny", action="store_true", help="a tiny model and random images")
    args = parser.parse_args(argv)
    if args.tiny:
        args.model, args.npy = tiny_model_and_images(args.output_dir)

    model = keras.saving.load_model(args.model, compile=False)
    images = np.load(args.npy)[:4096]
    outputs = ("representation", "embedding") if hasattr(model, "encoder") else (None,)
    reports = {}
    for output in outputs:
        report = kc.metrics.spectrum_report(model, images, output=output)
        name = output or "output"
        print(f"{name}: dims {len(report.eigenvalues)}, effective rank "
              f"{report.effective_rank:.1f}, RankMe {report.rankme:.1f}, AUC {report.auc:.3f}, "
              f"collapsed {report.collapsed_dims}, normalised std {report.normalized_std:.4f}")
        report.figure().savefig(os.path.join(args.output_dir, f"spectrum_{name}.png"))
        reports[name] = report
    return reports


if __name__ == "__main__":
    main()
