"""`keras-collapse report` (keras_collapse/_report_cli.py, _model_report.py):
which outputs it reports, on which inputs, checked against NumPy."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets

import keras_collapse as kc
from keras_collapse import cli

SIZE = 8


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """`(directory, images)`: 40 uint8 PNGs of the models' input size (no
    resizing, so the reference can use the pixels as they are)."""
    directory = tmp_path_factory.mktemp("report")
    images = np.random.default_rng(1).integers(0, 256, (40, SIZE, SIZE, 3), dtype=np.uint8)
    for i, image in enumerate(images):
        tf.io.write_file(str(directory / "images" / "nested" / f"{i:02d}.png"),
                         tf.io.encode_png(image))
    return directory, images


@pytest.fixture(scope="module")
def siamese(folder):
    encoder = keras.Sequential([keras.Input((SIZE, SIZE, 3)),
                                keras.layers.Conv2D(12, 3, activation="relu", name="conv"),
                                keras.layers.GlobalAveragePooling2D(name="pool")])
    model = kc.models.SiameseModel(encoder, head=kc.layers.ProjectionHead(5, hidden_dims=(16,)))
    model.compile(optimizer="adam", loss=kc.losses.NTXent())
    model.build((None, SIZE, SIZE, 3))
    path = folder[0] / "siamese.keras"
    model.save(path)
    return path, model


def _eigenvalues(z):
    """Covariance eigenvalues (1/N), descending: the NumPy reference."""
    z = np.asarray(z, np.float64)
    return np.sort(np.linalg.eigvalsh(np.cov(z, rowvar=False, bias=True)))[::-1]


def _effective_rank(eigenvalues):
    """Roy & Vetterli's exp(entropy) of the normalised singular values sqrt(λ)."""
    singular = np.sqrt(np.maximum(eigenvalues, 0.0))
    p = singular / singular.sum()
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


def _report(args, folder):
    out = folder[0] / "out"
    assert cli.main(["report", *map(str, args), "--output_dir", str(out)]) == 0
    return json.loads((out / "report.json").read_text())


def test_a_siamese_model_reports_representation_and_embedding(folder, siamese, capsys):
    result = _report([siamese[0], "--images", folder[0] / "images"], folder)
    printed = capsys.readouterr().out
    assert "pixel values in [0, 1]" in printed and "no Rescaling layer" in printed
    outputs = result["models"]["A"]["outputs"]
    x = folder[1] / 255.0
    representation = siamese[1].encoder(x, training=False)
    references = {"representation": representation,
                  "embedding": siamese[1].head(representation, training=False)}
    for key, z in references.items():
        expected = _eigenvalues(z)
        np.testing.assert_allclose(outputs[key]["eigenvalues"], expected, rtol=1e-4,
                                   atol=1e-9 * expected[0])
        assert outputs[key]["effective_rank"] == pytest.approx(_effective_rank(expected),
                                                               rel=1e-4)
        assert outputs[key]["num_samples"] == 40
    assert outputs["representation"]["description"] == "encoder output"
    assert outputs["embedding"]["description"] == "head output"


def test_a_classifier_reports_its_features_and_a_layer_its_output(folder, capsys):
    classifier = keras.Sequential([
        keras.Input((SIZE, SIZE, 3)), keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(6, 3, activation="relu", name="conv"),
        keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3, name="logits")])
    path = folder[0] / "classifier.keras"
    classifier.save(path)
    result = _report([path, "--images", folder[0] / "images", "--max_examples", 30], folder)
    assert "pixel values in [0, 255]" in capsys.readouterr().out  # it has a Rescaling layer
    outputs = result["models"]["A"]["outputs"]
    assert outputs["features"]["num_samples"] == 30 and len(outputs["output"]["eigenvalues"]) == 3
    assert outputs["features"]["description"] == "input of final Dense 'logits'"
    # All 40 images at --input_scale 1: the features of x / 255 (Rescaling inside).
    result = _report([path, "--images", folder[0] / "images", "--input_scale", "1",
                      "--layer", "conv"], folder)
    conv = keras.Model(classifier.inputs[0], classifier.get_layer("conv").output)
    expected = _eigenvalues(np.reshape(conv(folder[1] / 255.0), (40, -1)))
    got = result["models"]["A"]["outputs"]["layer conv"]["eigenvalues"]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-9 * expected[0])


def test_compare_puts_two_models_side_by_side(folder, siamese, capsys):
    other = kc.models.SiameseModel(kc.encoders.convnet((SIZE, SIZE, 3), width=2))
    other.build((None, SIZE, SIZE, 3))
    other.save(folder[0] / "other.keras")
    result = _report([siamese[0], "--images", folder[0] / "images", "--compare",
                      folder[0] / "other.keras"], folder)
    printed = capsys.readouterr().out
    header = [line for line in printed.splitlines() if "A: representation" in line][0]
    assert header.index("A: representation") < header.index("B: representation") < header.index(
        "A: embedding")
    assert set(result["models"]["B"]["outputs"]) == {"representation"}  # no head
    assert (folder[0] / "out" / "compare_representation.png").stat().st_size > 0


def test_npy_vectors_and_images_and_tfds(folder, capsys):
    mlp = kc.models.SiameseModel(kc.encoders.mlp((6,), width=4))
    mlp.build((None, 6))
    mlp.save(folder[0] / "mlp.keras")
    vectors = np.random.default_rng(0).normal(size=(50, 6)).astype("float32")
    np.save(folder[0] / "vectors.npy", vectors)
    result = _report([folder[0] / "mlp.keras", "--npy", folder[0] / "vectors.npy"], folder)
    expected = _eigenvalues(mlp.encoder(vectors, training=False))
    np.testing.assert_allclose(result["models"]["A"]["outputs"]["representation"]["eigenvalues"],
                               expected, rtol=1e-4, atol=1e-9 * expected[0])
    encoder = kc.encoders.convnet((32, 32, 3), width=2)
    encoder.save(folder[0] / "encoder.keras")
    np.save(folder[0] / "images.npy", folder[1])
    result = _report([folder[0] / "encoder.keras", "--npy", folder[0] / "images.npy",
                      "--max_examples", 25], folder)
    assert "25 images from" in capsys.readouterr().out
    assert result["models"]["A"]["outputs"]["output"]["num_samples"] == 25
    with tensorflow_datasets.testing.mock_data(num_examples=20):
        result = _report([folder[0] / "encoder.keras", "--tfds", "cifar10"], folder)
    assert result["models"]["A"]["outputs"]["output"]["num_samples"] == 20


def test_what_cannot_be_reported_is_said_in_one_line(folder, siamese, tmp_path):
    with pytest.raises(SystemExit, match="no such model file: 'missing.keras'"):
        cli.main(["report", "missing.keras", "--images", str(folder[0] / "images")])
    unsized = keras.Sequential([keras.Input((None, None, 3)),
                                keras.layers.GlobalAveragePooling2D()])
    unsized.save(tmp_path / "unsized.keras")
    with pytest.raises(SystemExit, match=r"input size is not fixed .*pass --image_size HxW"):
        cli.main(["report", str(tmp_path / "unsized.keras"), "--images",
                  str(folder[0] / "images")])
    assert cli.main(["report", str(tmp_path / "unsized.keras"), "--images",
                     str(folder[0] / "images"), "--image_size", "6x4",
                     "--output_dir", str(tmp_path / "out")]) == 0
    with pytest.raises(SystemExit, match=r"inputs of shape \(6,\), not images"):
        mlp = keras.Sequential([keras.Input((6,)), keras.layers.Dense(2)])
        mlp.save(tmp_path / "mlp.keras")
        cli.main(["report", str(tmp_path / "mlp.keras"), "--images", str(folder[0] / "images")])
