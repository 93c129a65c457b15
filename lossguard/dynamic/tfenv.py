"""The framework set-up of a worker process: TensorFlow on one thread and deterministic, and
which Keras `tf.keras` is. Imported by the worker and its probes only (TensorFlow is imported
when `configure_tensorflow` is called)."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any


def configure_tensorflow() -> Any:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    try:
        tf.config.experimental.enable_op_determinism()
    except Exception:  # noqa: BLE001, S110 - older TensorFlow
        pass
    return tf


def keras_version() -> str:
    """`tf.keras`'s version: Keras 3, or tf_keras with TF_USE_LEGACY_KERAS=1."""
    name = "tf_keras" if os.environ.get("TF_USE_LEGACY_KERAS") == "1" else "keras"
    if name == "keras" and "tf_keras" in sys.modules and sys.modules.get("keras") is \
            sys.modules["tf_keras"]:
        name = "tf_keras"
    try:
        return f"{name} {importlib.import_module(name).__version__}"
    except Exception:  # noqa: BLE001
        return name
