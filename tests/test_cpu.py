"""keras_collapse._cpu: the command takes TensorFlow's oneDNN CPU path, and
training on it is bit-for-bit repeatable."""

import os
import subprocess
import sys

from keras_collapse import _cpu

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _python(code, **env):
    environment = {k: v for k, v in os.environ.items() if k != _cpu.ONEDNN}
    completed = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                               text=True, timeout=300, env={**environment, **env})
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout.split()


def _startup(argv0, **env):
    """TF_ENABLE_ONEDNN_OPTS after `import keras_collapse` under that argv[0],
    and whether TensorFlow was imported."""
    return _python(f"import sys; sys.argv[0] = {argv0!r}; import keras_collapse, os; "
                   f"print(os.environ.get({_cpu.ONEDNN!r}), 'tensorflow' in sys.modules)", **env)


def test_the_command_turns_onednn_on_before_tensorflow_and_keeps_a_users_choice():
    for argv0 in ("/usr/bin/keras-collapse", "-m"):  # console script, python -m keras_collapse.cli
        assert _startup(argv0) == ["1", "False"]
        assert _startup(argv0, TF_ENABLE_ONEDNN_OPTS="0") == ["0", "False"]


FIT_TWICE = """
import hashlib, keras, numpy as np, tensorflow as tf
import keras_collapse as kc
from keras_collapse import _cpu
tf.config.experimental.enable_op_determinism()
def digest():
    keras.utils.set_random_seed(0)
    model = kc.models.SiameseModel(kc.encoders.convnet((8, 8, 1), width=4),
                                   head=kc.layers.ProjectionHead(8, hidden_dims=(16,)))
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss=kc.losses.NTXent(0.5))
    rng = np.random.default_rng(0)
    a, b = (rng.normal(size=(96, 8, 8, 1)).astype("float32") for _ in range(2))
    model.fit((a, b), batch_size=32, epochs=2, verbose=0)
    return hashlib.sha256(b"".join(w.tobytes() for w in model.get_weights())).hexdigest()
print(_cpu.onednn_enabled(), digest(), digest())
"""


def test_training_on_the_onednn_path_is_bit_identical_run_to_run():
    """The command's path (oneDNN on, no XLA) with the studies' op determinism:
    two fits of a conv encoder with BatchNorm heads from the same seed end with
    the same bytes in every weight and moving statistic."""
    onednn, first, second = _python(FIT_TWICE, TF_ENABLE_ONEDNN_OPTS="1")
    assert onednn == "True"
    assert first == second
