"""`keras-collapse report MODEL`: has a saved Keras model collapsed, on your data?

Loads any saved Keras model, embeds a bounded sample of images (a folder, a
prepared TFDS dataset or a `.npy` array), and prints the collapse measures of
each output it reports, labelled by what it is:

* a `SiameseModel`: the *representation* (encoder output) and the
  *embedding* (head output);
* `--layer NAME`: that layer's output (looked up in the encoder of a
  `SiameseModel`);
* any other model: its *output*, and, when its last layer is a `Dense` (a
  classifier's), also the *features* that layer reads.

It writes `report.json` and one figure per output (log spectrum and
cumulative explained variance; `--weights` adds the singular values of every
Dense/Conv kernel, one SVD each); `--compare OTHER` reports a second model on
the same sample, side by side, with the two spectra overlaid.

Images are centre-cropped to the model's input aspect ratio and resized
(bilinear) to its input size, and given in `[0, 1]`, the scale of the
package's pipelines, unless the model contains a `keras.layers.Rescaling`
layer (then in `[0, 255]`, as Keras' image datasets give them);
`--input_scale` overrides. This module holds the arguments (it imports no
TensorFlow, so `keras-collapse --help` stays light); the work is in
`keras_collapse/_model_report.py`.
"""

from __future__ import annotations


def add_parser(commands):
    """The `report` sub-command's arguments (added to the CLI's sub-parsers)."""
    report = commands.add_parser(
        "report", help="collapse report of a saved Keras model on a sample of your images",
        description=__doc__.split("\n\n")[1].replace("\n", " "))
    report.add_argument("model", help="a saved Keras model (.keras or .h5): a SiameseModel, "
                                      "an encoder, a classifier")
    source = report.add_mutually_exclusive_group(required=True)
    source.add_argument("--images", metavar="DIR",
                        help="a folder of images (subfolders included; JPEG, PNG, GIF, BMP)")
    source.add_argument("--tfds", metavar="NAME", help="a prepared TensorFlow Datasets dataset")
    source.add_argument("--npy", metavar="FILE",
                        help="a .npy array (num_examples, ...) of images or of vectors")
    report.add_argument("--data_dir", help="--tfds: the directory of the prepared dataset")
    report.add_argument("--split", default="train", help="--tfds: the split (default: train)")
    report.add_argument("--layer", help="report the output of this layer")
    report.add_argument("--compare", metavar="OTHER", help="a second saved model, side by side")
    report.add_argument("--max_examples", type=int, default=2048,
                        help="embed at most this many examples (default: 2048)")
    report.add_argument("--batch_size", type=int, default=128, help="default: 128")
    report.add_argument("--image_size", metavar="HxW",
                        help="image size for a model whose input size is not fixed")
    report.add_argument("--input_scale", choices=("auto", "1", "255"), default="auto",
                        help="pixel range given to the model: [0, 1], [0, 255], or auto (255 if "
                             "the model has a Rescaling layer, else 1)")
    report.add_argument("--weights", action="store_true",
                        help="also the singular values of every Dense/Conv kernel (one SVD each)")
    report.add_argument("--seed", type=int, default=0, help="seed of the sample (default: 0)")
    report.add_argument("--output_dir", default="collapse_report",
                        help="where report.json and the figures go (default: collapse_report)")
    return report


def report(args):
    """Run `keras-collapse report` with parsed arguments; returns the exit status."""
    from keras_collapse import _model_report

    return _model_report.run(args)
