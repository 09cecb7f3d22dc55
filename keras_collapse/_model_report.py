"""The work of `keras-collapse report` (its arguments: `keras_collapse/_report_cli.py`).

Which outputs of a saved model are reported, the bounded sample of images
they are computed on, and the text, figures and JSON written. Each output is
computed from one embedding pass: the part of the model every reported output
shares (the encoder of a `SiameseModel`, the features of a classifier) is run
once over the sample, then the rest (the head, the final Dense) on its result.
"""

from __future__ import annotations

import dataclasses
import json
import os

import keras
import numpy as np
import tensorflow as tf

# Importing these registers the package's serializable objects for
# load_model (the command skips the eager imports of `import keras_collapse`).
import keras_collapse.layers  # noqa: F401
import keras_collapse.losses  # noqa: F401
import keras_collapse.models  # noqa: F401
import keras_collapse.optimizers  # noqa: F401
import keras_collapse.regularizers  # noqa: F401
from keras_collapse import plots
from keras_collapse.data import tfds
from keras_collapse.data.examples import examples_of
from keras_collapse.evaluation import embed
from keras_collapse.metrics import spectrum_report, weight_singular_values
from keras_collapse.metrics._probe import _sub_model, is_siamese

#: The measures printed, in order: (key of SpectrumReport.to_dict(), label).
MEASURES = (("effective_rank", "effective rank"), ("rankme", "RankMe"), ("auc", "AUC"),
            ("collapsed_dims", "collapsed dims"), ("normalized_std", "normalised std"))
#: Where the spectrum's tail is read, as fractions of the dimension d.
TAIL = ((0.25, "d/4"), (0.5, "d/2"), (0.75, "3d/4"), (1.0, "d"))


def _load(path):
    if not os.path.exists(path):
        raise SystemExit(f"keras-collapse report: no such model file: {path!r}")
    return keras.saving.load_model(path, compile=False)


def _image_shape(model, image_size):
    """`(height, width, channels)` the model takes, `--image_size` filling unknowns."""
    base = model.encoder if is_siamese(model) else model
    try:
        shape = tuple(base.inputs[0].shape[1:])
    except (AttributeError, IndexError, ValueError, TypeError):
        shape = (None, None, 3)
    if image_size:
        height, _, width = image_size.lower().partition("x")
        shape = (int(height), int(width or height)) + tuple(shape[2:] if len(shape) == 3 else (3,))
    return shape


def _outputs(model, layer):
    """`(front, [(key, description, back, weight roots)])`: `front` maps inputs
    to an array every output is computed from (embedded once), `back` maps
    that array on to the output (`None`: the array itself)."""
    if layer is not None:
        sub = _sub_model(model, layer, "layer")
        return sub, [(f"layer {layer}", f"output of layer {layer!r}", None, [sub])]
    if is_siamese(model):
        outputs = [("representation", "encoder output", None, [model.encoder])]
        if model.head is not None:
            outputs.append(("embedding", "head output", model.head, [model.head]))
        return model.encoder, outputs
    last = model.layers[-1] if getattr(model, "layers", None) else None
    if isinstance(last, keras.layers.Dense) and len(model.layers) > 1:
        try:
            inputs = model.inputs
            features = keras.Model(inputs[0] if len(inputs) == 1 else inputs, last.input)
        except (AttributeError, ValueError, TypeError):
            features = None
        if features is not None:
            return features, [
                ("features", f"input of final Dense {last.name!r}", None, [features]),
                ("output", f"final Dense, {last.units} units", last, [last])]
    return model, [("output", "model output", None, [model])]


def _sample(args, shape, scale):
    """`(batches, description)`: at most `--max_examples` examples, batched,
    images scaled to `[0, scale]`."""
    size, channels = (tuple(shape[:2]), shape[2]) if len(shape) == 3 else ((None, None), None)
    fixed = f"centre-cropped and resized to {size[0]}×{size[1]}"
    if args.images:
        mode = {1: "grayscale", 4: "rgba"}.get(channels, "rgb")
        data = keras.utils.image_dataset_from_directory(
            args.images, labels=None, image_size=size, color_mode=mode, batch_size=None,
            shuffle=True, seed=args.seed, crop_to_aspect_ratio=True, verbose=False)
        data, what = data.map(lambda x: x / 255.0), f"images from {args.images}"
    elif args.tfds:
        resize = keras.layers.Resizing(*size, crop_to_aspect_ratio=True)
        data = tfds(args.tfds, split=args.split, data_dir=args.data_dir)
        data = data.map(lambda x, y: resize(x) / 255.0)
        what = f"images of {args.tfds} ({args.split})"
    else:
        array = np.load(args.npy, mmap_mode="r")
        rng = np.random.default_rng(args.seed)
        keep = np.sort(rng.choice(len(array), min(len(array), args.max_examples), replace=False))
        array = np.asarray(array[keep])
        if array.ndim == 2:
            return (tf.data.Dataset.from_tensor_slices(array.astype("float32")).batch(
                args.batch_size), f"vectors from {args.npy}")
        if array.ndim == 3:
            array = array[..., None]
        array = array / 255.0 if array.dtype == np.uint8 else examples_of(array)
        data = tf.data.Dataset.from_tensor_slices(array.astype("float32"))
        if None in size:
            fixed = "at their own size"
        else:
            data = data.map(keras.layers.Resizing(*size, crop_to_aspect_ratio=True))
        what = f"images from {args.npy}"
    data = data.take(args.max_examples).map(lambda x: x * scale).batch(args.batch_size)
    return data, f"{what}, {fixed}, pixel values in [0, {scale:g}]"


def _has_rescaling(model):

    return any(isinstance(layer, keras.layers.Rescaling)
               for layer in model._flatten_layers(include_self=True, recursive=True))


def _model_reports(model, layer, data, batch_size, with_weights):
    """`{key: (description, SpectrumReport)}` of the model's outputs on `data`."""
    front, outputs = _outputs(model, layer)
    base = embed(front, data, batch_size, dtype="float64")
    reports = {}
    for key, description, back, roots in outputs:
        report = spectrum_report(back, base, batch_size=batch_size, include_weights=False)
        if with_weights:
            report = dataclasses.replace(
                report, weight_singular_values=weight_singular_values(roots))
        reports[key] = (description, report)
    return reports


def _tail(eigenvalues):
    top = max(float(eigenvalues[0]), 1e-300)
    d = len(eigenvalues)
    return [float(eigenvalues[max(1, round(d * f)) - 1]) / top for f, _ in TAIL]


def _table(columns):
    """The report's text: one column per (header, description, report)."""
    rows = [("", [h for h, _, _ in columns]), ("", [f"({d})" for _, d, _ in columns]),
            ("dimensions", [str(len(r.eigenvalues)) for _, _, r in columns])]
    for key, label in MEASURES:
        values = [r.to_dict()[key] for _, _, r in columns]
        rows.append((label, [str(v) if isinstance(v, int) else f"{v:.4g}" for v in values]))
    rows.append(("complete collapse", ["yes" if r.complete_collapse else "no"
                                       for _, _, r in columns]))
    tails = [_tail(r.eigenvalues) for _, _, r in columns]
    for i, (_, name) in enumerate(TAIL):
        rows.append((f"λ_k/λ_1 at k = {name}", [f"{t[i]:.2e}" for t in tails]))
    width = max(len(label) for label, _ in rows) + 2
    cells = [max(len(v) for v in values) + 2 for values in zip(*[v for _, v in rows])]
    return "\n".join(label.ljust(width) + "".join(v.ljust(c) for v, c in zip(values, cells))
                     for label, values in rows)


def _figures(results, output_dir, weights):
    """One report figure per (model, output); the spectra overlaid per shared output."""
    written = []
    tags = list(results)
    for tag, (_, reports) in results.items():
        for key, (description, report) in reports.items():
            name = f"spectrum_{key.replace(' ', '_')}" + (f"_{tag}" if len(tags) > 1 else "")
            written.append(os.path.join(output_dir, name + ".png"))
            figure = plots.report_figure(report, weights=weights)
            figure.axes[0].set_title(f"{tag + ': ' if len(tags) > 1 else ''}{key} "
                                     f"({description})", fontsize=9)
            figure.savefig(written[-1])
    if len(tags) > 1:
        shared = [key for key in results[tags[0]][1] if key in results[tags[1]][1]]
        for key in shared:
            spectra = {f"{tag}: {os.path.basename(results[tag][0])}":
                       results[tag][1][key][1].eigenvalues / max(
                           results[tag][1][key][1].eigenvalues[0], 1e-300) for tag in tags}
            figure = plots.spectrum_figure(spectra, title=f"{key}: spectra / λ_1")
            written.append(os.path.join(output_dir, f"compare_{key.replace(' ', '_')}.png"))
            figure.savefig(written[-1])
    return written


def run(args):
    """`keras-collapse report` with parsed arguments (see
    `keras_collapse._report_cli`); returns the exit status."""
    if args.max_examples < 2:
        raise SystemExit("keras-collapse report: --max_examples must be at least 2")
    paths = {"A": args.model, **({"B": args.compare} if args.compare else {})}
    loaded = {tag: _load(path) for tag, path in paths.items()}
    shape = _image_shape(loaded["A"], args.image_size)
    if args.npy is None and len(shape) != 3:
        raise SystemExit(f"keras-collapse report: the model takes inputs of shape {shape}, not "
                         "images (height, width, channels): give them with --npy FILE")
    if args.npy is None and None in shape[:2]:
        raise SystemExit("keras-collapse report: the model's input size is not fixed "
                         f"({shape}); pass --image_size HxW")
    scaled = args.input_scale == "255" or (args.input_scale == "auto"
                                            and _has_rescaling(loaded["A"]))
    data, described = _sample(args, shape, 255.0 if scaled else 1.0)
    results = {tag: (paths[tag],
                    _model_reports(model, args.layer, data, args.batch_size, args.weights))
              for tag, model in loaded.items()}
    columns = []
    keys = list(dict.fromkeys(k for _, reports in results.values() for k in reports))
    for key in keys:
        for tag, (_, reports) in results.items():
            if key in reports:
                header = f"{tag}: {key}" if len(results) > 1 else key
                columns.append((header, *reports[key]))
    count = columns[0][2].num_samples
    described = f"{count} {described}"
    for tag, model in loaded.items():
        prefix = f"{tag} = " if len(results) > 1 else ""
        print(f"{prefix}{paths[tag]} ({type(model).__name__})")
    print(f"data: {described}")
    if args.input_scale == "auto":
        print("      (" + ("the model has a Rescaling layer" if scaled else
                           "the model has no Rescaling layer") + "; --input_scale overrides)")
    print()
    print(_table(columns))
    for header, _, report in columns:
        if count <= len(report.eigenvalues):
            print(f"note: {count} examples for {len(report.eigenvalues)} dimensions ({header}): "
                  f"at most {count - 1} eigenvalues can be non-zero; raise --max_examples.")
    os.makedirs(args.output_dir, exist_ok=True)
    written = _figures(results, args.output_dir, args.weights)
    result = {"data": described, "models": {
        tag: {"path": path, "class": type(loaded[tag]).__name__, "outputs": {
            key: {"description": description, **report.to_dict()}
            for key, (description, report) in reports.items()}}
        for tag, (path, reports) in results.items()}}
    written.insert(0, os.path.join(args.output_dir, "report.json"))
    with open(written[0], "w", encoding="utf-8") as stream:
        json.dump(result, stream, indent=1)
    print("\nwrote " + ", ".join(written))
    return 0
