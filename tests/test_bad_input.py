"""Bad-input audit of the public API: one table of (call, exception, message).

Every entry is a wrong dtype, an empty input, a non-finite value or a wrong
shape given to a public function of kc.losses, kc.metrics, kc.layers,
kc.regularizers, kc.data.two_views / ordered_views or kc.evaluation. Each
must raise ONE exception of the expected type, in the package's form
("Invalid value for argument `x`. Expected .... Received: x=..." or the
received shapes), raised from keras_collapse code rather than from deep
inside TensorFlow, NumPy or scikit-learn.
"""

import os
import traceback

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_collapse as kc

L, M = kc.losses, kc.metrics
Z = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
Y = np.arange(8) % 2
STRINGS = np.array([["a", "b"], ["c", "d"]])
NAN = np.full((4, 3), np.nan, "float32")
EMPTY_DS = tf.data.Dataset.from_tensor_slices(np.zeros((0, 3), "float32"))
PACKAGE = os.path.dirname(kc.__file__)


def identity(batch, seed):
    return batch


def _built_model():
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])


# (id, call, exception, message regex)
CASES = [
    # ------------------------------------------------------------ losses
    ("loss/string", lambda: L.nt_xent(STRINGS, STRINGS), TypeError,
     r"argument `z_a`\. Expected a float tensor\. Received: z_a=tf\.string"),
    ("loss/class_string", lambda: L.NTXent()(STRINGS, STRINGS), TypeError,
     r"argument `z_a`\. Expected a float tensor\. Received: z_a=tf\.string"),
    ("loss/bool", lambda: L.vicreg(Z > 0, Z > 0), TypeError, r"Received: z_a=tf\.bool"),
    ("loss/complex", lambda: L.barlow_twins(Z + 1j, Z + 1j), TypeError,
     r"Received: z_a=tf\.complex"),
    ("loss/none", lambda: L.info_nce(None, Z), TypeError,
     r"argument `z_a`\. Expected a float tensor of shape \(batch_size, dim\)\. Received: "
     r"z_a=None"),
    ("loss/dict", lambda: L.spectral_contrastive(Z, {"z": Z}), TypeError,
     r"argument `z_b`.*Received: z_b='dict not convertible to a tensor'"),
    ("loss/rank1", lambda: L.nt_xent(Z[0], Z[0]), ValueError,
     r"Expected a rank-2 tensor of shape \(batch_size, dim\)\. Received: z_a\.shape=\(4,\)"),
    ("loss/rank3", lambda: L.BarlowTwins()(Z[None], Z[None]), ValueError,
     r"Received: z_a\.shape=\(1, 8, 4\)"),
    ("loss/shape_mismatch", lambda: L.vicreg(Z, Z[:, :3]), ValueError,
     r"The two views must have the same shape\. Received: z_a\.shape=\(8, 4\), "
     r"z_b\.shape=\(8, 3\)"),
    ("loss/batch_of_one", lambda: L.NTXent()(Z[:1], Z[:1]), ValueError,
     r"needs a batch of at least 2 examples.*Received: z_a\.shape=\(1, 4\)"),
    ("loss/empty_batch", lambda: L.simsiam(Z[:0], Z[:0]), ValueError,
     r"Expected a non-empty batch \(at least one example\)\. Received: z_a\.shape=\(0, 4\)"),
    ("loss/siamese_triple", lambda: L.byol((Z, Z, Z), (Z, Z, Z)), ValueError,
     r"Expected a tensor or a pair \(prediction, target\)"),
    ("loss/prediction_target_shapes", lambda: L.simsiam((Z, Z[:, :2]), (Z, Z[:, :2])),
     ValueError, r"prediction and the target must have the same shape"),
    ("loss/temperature_zero", lambda: L.InfoNCE(temperature=0), ValueError,
     r"argument `temperature`\. Expected a positive float\. Received: temperature=0"),
    ("loss/temperature_string", lambda: L.NTXent("0.1"), TypeError,
     r"Received: temperature='0\.1'"),
    ("loss/similarity", lambda: L.info_nce(Z, Z, similarity="cos"), ValueError,
     r"Expected one of \['cosine', 'dot', 'gaussian'\]\. Received: similarity='cos'"),
    ("loss/weight_negative", lambda: L.VICReg(invariance_weight=-1.0), ValueError,
     r"argument `invariance_weight`\. Expected a non-negative float"),
    ("loss/whole_batch_sample_weight", lambda: L.BarlowTwins()(Z, Z, sample_weight=Y),
     ValueError, r"argument `sample_weight`: BarlowTwins is a whole-batch objective"),
    ("loss/momentum", lambda: L.BYOL(momentum=1.5), ValueError,
     r"argument `momentum`\. Expected a float in \[0, 1\]"),
    # ----------------------------------------------------------- metrics
    ("metrics/nan", lambda: M.effective_rank(NAN), ValueError,
     r"Expected finite embeddings \(no NaN or Inf\)\. Received: z=array of shape \(4, 3\) "
     r"with 12 non-finite values"),
    ("metrics/inf", lambda: M.rankme(np.where(np.eye(4) > 0, np.inf, 0.0)), ValueError,
     r"with 4 non-finite values"),
    ("metrics/string", lambda: M.auc(STRINGS), TypeError,
     r"Expected real-valued \(float or integer\) embeddings\. Received: z=array of shape "
     r"\(2, 2\) with dtype <U1"),
    ("metrics/tf_string", lambda: M.covariance_spectrum(tf.constant(STRINGS)), TypeError,
     r"Expected a numeric array of embeddings"),
    ("metrics/complex", lambda: M.normalized_std(Z + 1j), TypeError,
     r"with dtype complex(64|128)"),
    ("metrics/bool", lambda: M.collapsed_dimensions(Z > 0), TypeError, r"with dtype bool"),
    ("metrics/ragged", lambda: M.effective_rank([[1.0, 2.0], [1.0]]), TypeError,
     r"Received: z='list not convertible to a float array'"),
    ("metrics/none", lambda: M.rankme(None), TypeError,
     r"argument `z`\. Expected embeddings of shape \(num_samples, dim\)\. Received: z=None"),
    ("metrics/empty", lambda: M.covariance_spectrum(np.zeros((0, 3))), ValueError,
     r"Expected at least one sample and one dimension\. Received: z=array of shape \(0, 3\)"),
    ("metrics/rank1", lambda: M.effective_rank(Z[0]), ValueError,
     r"Expected embeddings of rank 2, shape \(num_samples, dim\)\. Received: z=array of "
     r"shape \(4,\)"),
    ("metrics/rank3", lambda: M.auc(Z[None]), ValueError, r"array of shape \(1, 8, 4\)"),
    ("metrics/rtol", lambda: M.collapsed_dimensions(Z, rtol=0), ValueError,
     r"argument `rtol`\. Expected a positive float"),
    ("metrics/accumulator_empty", lambda: M.CovarianceAccumulator().spectrum(), ValueError,
     r"Expected at least one embedding \(call update\(\) first\)"),
    ("metrics/accumulator_dim", lambda: M.CovarianceAccumulator().update(Z).update(Z[:, :2]),
     ValueError, r"Expected embeddings of dim 4 like earlier batches\. Received: "
                 r"batch=array of shape \(8, 2\)"),
    ("metrics/accumulator_nan", lambda: M.CovarianceAccumulator().update(NAN), ValueError,
     r"argument `batch`\. Expected finite embeddings"),
    ("metrics/accumulator_merge", lambda: M.CovarianceAccumulator().merge(Z), TypeError,
     r"argument `other`\. Expected a CovarianceAccumulator"),
    ("metrics/report_empty_array", lambda: M.spectrum_report(None, np.zeros((0, 4))),
     ValueError, r"argument `dataset`\. Expected a non-empty dataset"),
    ("metrics/report_empty_dataset", lambda: M.spectrum_report(None, EMPTY_DS.batch(2)),
     ValueError, r"argument `dataset`\. Expected a non-empty dataset"),
    ("metrics/report_nan", lambda: M.spectrum_report(None, NAN), ValueError,
     r"Expected finite embeddings \(no NaN or Inf\)"),
    ("metrics/report_unknown_layer", lambda: M.spectrum_report(_built_model(), Z[:, :3],
                                                               layer="nope"),
     ValueError, r"argument `layer`\. Expected the name of a layer of"),
    ("metrics/kernel_string", lambda: M.kernel_matrix(STRINGS), TypeError,
     r"argument `kernel`\. Expected a numeric kernel array"),
    ("metrics/kernel_rank", lambda: M.kernel_matrix(np.ones(3)), ValueError,
     r"Expected a kernel of rank >= 2"),
    ("metrics/alignment_shapes", lambda: M.alignment_matrix(np.ones((3, 2)), np.ones((4, 4))),
     ValueError, r"argument `w_second`\. Expected a matrix of shape \(d_out, 3\)"),
    ("metrics/weights_not_layer", lambda: M.weight_singular_values("dense"), TypeError,
     r"Expected Keras layers or models\. Received: layers='dense'"),
    # ------------------------------------------------------------ layers
    ("layers/directclr_dim", lambda: kc.layers.DirectCLRHead(0), ValueError,
     r"argument `dim`\. Expected a positive integer\. Received: dim=0"),
    ("layers/directclr_too_wide", lambda: kc.layers.DirectCLRHead(5)(Z[:, :3]), ValueError,
     r"Expected at most the representation size 3\. Received: dim=5"),
    ("layers/directclr_string", lambda: kc.layers.DirectCLRHead(1)(tf.constant(STRINGS)),
     TypeError, r"argument `inputs`\. Expected a float tensor of shape \(batch_size, "
                r"representation_dim\) for DirectCLRHead\. Received: inputs=tf\.string"),
    ("layers/projection_string", lambda: kc.layers.ProjectionHead(2)(tf.constant(STRINGS)),
     TypeError, r"for ProjectionHead\. Received: inputs=tf\.string"),
    ("layers/projection_hidden_int", lambda: kc.layers.ProjectionHead(4, hidden_dims=8),
     TypeError, r"argument `hidden_dims`\. Expected a sequence of positive integers, "
                r"e\.g\. \(512,\)\. Received: hidden_dims=8"),
    ("layers/projection_hidden_zero", lambda: kc.layers.ProjectionHead(4, hidden_dims=(0,)),
     ValueError, r"argument `hidden_dims`\. Expected a positive integer"),
    ("layers/prediction_output", lambda: kc.layers.PredictionHead(-2), ValueError,
     r"argument `output_dim`\. Expected a positive integer"),
    # ------------------------------------------------------- regularizers
    ("regularizers/alpha", lambda: kc.regularizers.WERank(-0.1), ValueError,
     r"argument `alpha`\. Expected a non-negative float"),
    ("regularizers/kernel_string", lambda: kc.regularizers.werank_penalty(tf.constant(STRINGS)),
     TypeError, r"argument `kernel`\. Expected a float kernel tensor\. Received: "
                r"kernel=tf\.string"),
    ("regularizers/kernel_rank", lambda: kc.regularizers.werank_penalty(np.ones((2, 2, 2))),
     ValueError, r"Received: kernel\.shape=\(2, 2, 2\)"),
    ("regularizers/unbuilt", lambda: kc.regularizers.attach_werank(
        keras.Sequential([keras.layers.Dense(2)])), ValueError,
     r"Expected a built model with at least one Dense or Conv kernel"),
    ("regularizers/unknown_layer", lambda: kc.regularizers.attach_werank(
        _built_model(), {"nope": 0.1}), ValueError, r"Unknown layer names \['nope'\]"),
    # --------------------------------------------------------------- data
    ("data/two_views_empty_array", lambda: kc.data.two_views(np.zeros((0, 3)), identity),
     ValueError, r"argument `data`\. Expected a non-empty array of examples\. Received: "
                 r"data='array of shape \(0, 3\)'"),
    ("data/two_views_empty_dataset", lambda: kc.data.two_views(EMPTY_DS, identity),
     ValueError, r"argument `data`\. Expected a non-empty dataset of examples"),
    ("data/two_views_none", lambda: kc.data.two_views(None, identity), ValueError,
     r"argument `data`\. Expected a non-empty array of examples"),
    ("data/two_views_batch", lambda: kc.data.two_views(Z, identity, batch_size=16),
     ValueError, r"argument `batch_size`\. Expected at most the number of examples \(8\)"),
    ("data/two_views_augment", lambda: kc.data.two_views(Z, "flip"), TypeError,
     r"argument `augment_a`\. Expected a callable \(batch, seed\) -> batch"),
    ("data/two_views_changes_batch", lambda: kc.data.two_views(
        Z, lambda b, s: b[:1], batch_size=4), ValueError,
     r"Expected a view function that keeps the batch size"),
    ("data/ordered_views_empty", lambda: kc.data.ordered_views(
        EMPTY_DS, "multi_pass", identity, batch_size=2, num_epochs=2), ValueError,
     r"argument `data`\. Expected a non-empty dataset of examples"),
    ("data/ordered_views_empty_unknown_size", lambda: kc.data.ordered_views(
        EMPTY_DS.filter(lambda x: True), "multi_pass", identity, batch_size=2, num_epochs=2),
     ValueError, r"Received: data='a tf\.data\.Dataset that yielded no examples'"),
    ("data/ordered_views_ordering", lambda: kc.data.ordered_views(
        Z, "multipass", identity, batch_size=2, num_epochs=2), ValueError,
     r"argument `ordering`\. Expected one of \['cumulative', 'hybrid', 'last', "
     r"'multi_pass', 'single_pass'\]"),
    ("data/ordered_views_initial_epoch_type", lambda: kc.data.ordered_views(
        Z, "multi_pass", identity, batch_size=2, num_epochs=2, initial_epoch="1"),
     TypeError, r"argument `initial_epoch`\. Expected an integer\. Received: "
                r"initial_epoch='1'"),
    ("data/ordered_views_initial_epoch", lambda: kc.data.ordered_views(
        Z, "multi_pass", identity, batch_size=2, num_epochs=2, initial_epoch=2),
     ValueError, r"Expected an integer in \[0, num_epochs=2\)"),
    ("data/ordered_views_too_many_epochs", lambda: kc.data.ordered_views(
        Z, "single_pass", identity, batch_size=2, num_epochs=9), ValueError,
     r"argument `num_epochs`\. Expected at most num_examples=8 chunks"),
    ("data/ordered_views_class_without_labels", lambda: kc.data.ordered_views(
        Z, kc.data.SinglePass(order="class"), identity, batch_size=2, num_epochs=2),
     ValueError, r"argument `labels`\. Expected class labels when order=\"class\""),
    # ---------------------------------------------------------- evaluation
    ("evaluation/embed_empty", lambda: kc.evaluation.embed(None, np.zeros((0, 3))),
     ValueError, r"argument `x`\. Expected at least one example"),
    ("evaluation/embed_string", lambda: kc.evaluation.embed(None, STRINGS), TypeError,
     r"argument `x`\. Expected numeric inputs \(float or integer\) when encoder=None\. "
     r"Received: x='inputs of dtype string'"),
    ("evaluation/probe_empty_train", lambda: kc.evaluation.linear_probe(
        None, (Z[:0], Y[:0]), (Z, Y)), ValueError,
     r"argument `train`\. Expected at least one labelled example"),
    ("evaluation/probe_label_count", lambda: kc.evaluation.linear_probe(
        None, (Z, Y[:7]), (Z, Y)), ValueError,
     r"argument `train`\. Expected as many labels as examples\. Received: "
     r"train='x of shape \(8, 4\) and y of shape \(7,\)'"),
    ("evaluation/probe_nan", lambda: kc.evaluation.linear_probe(None, (NAN, Y[:4]), (Z, Y)),
     ValueError, r"argument `train`\. Expected inputs whose features are finite "
                 r"\(no NaN or Inf\)\. Received: train='features of shape \(4, 3\) with 12"),
    ("evaluation/knn_nan_test", lambda: kc.evaluation.knn_accuracy(
        None, (Z, Y), (np.full_like(Z, np.nan), Y)), ValueError,
     r"argument `test`\. Expected inputs whose features are finite"),
    ("evaluation/knn_empty_dataset", lambda: kc.evaluation.knn_accuracy(
        None, tf.data.Dataset.from_tensor_slices((Z[:0], Y[:0])), (Z, Y)), ValueError,
     r"argument `train`\. Expected a non-empty dataset of \(x, y\) pairs"),
    ("evaluation/not_a_pair", lambda: kc.evaluation.knn_accuracy(None, Z, (Z, Y)), TypeError,
     r"argument `train`\. Expected a tuple \(x, y\) of arrays"),
    ("evaluation/dataset_not_pairs", lambda: kc.evaluation.linear_probe(
        None, tf.data.Dataset.from_tensor_slices(Z), (Z, Y)), TypeError,
     r"argument `train`\. Expected a dataset of \(x, y\) pairs"),
    ("evaluation/k", lambda: kc.evaluation.knn_accuracy(None, (Z, Y), (Z, Y), k=0),
     ValueError, r"argument `k`\. Expected a positive integer"),
]


@pytest.mark.parametrize("call,error,message", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_input_gives_one_clear_error(call, error, message):
    with pytest.raises(error, match=message) as info:
        call()
    # Raised by the package's own check, not deep inside a library: the
    # innermost frame is in keras_collapse, or in the autograph copy of a
    # package function traced by tf.data (Keras may wrap a layer's error in
    # its "Exception encountered when calling ..." note, which keeps our text).
    frames = traceback.extract_tb(info.value.__traceback__)
    where = frames[-1].filename
    assert where.startswith(PACKAGE) or "__autograph_generated" in where, frames[-1]
    assert info.value.__cause__ is None or isinstance(info.value.__cause__, type(info.value))
    text = str(info.value)
    assert "Invalid value for argument" in text or "Received:" in text
