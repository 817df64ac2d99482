"""Importing TensorFlow and Keras quietly, once, for the commands that need them.

TensorFlow's C++ runtime writes start-up notices (oneDNN, CUDA probing) straight to file descriptor 2,
where Python cannot filter them; they are captured while TensorFlow starts and shown only if it fails.
"""

from __future__ import annotations

import os
import sys
import tempfile

_READY = False


def import_tensorflow():
    """Returns the `tensorflow` module, started with its notices captured (set CNN_TF_VERBOSE=1 to see them)."""
    global _READY
    if _READY or os.environ.get("CNN_TF_VERBOSE"):
        import tensorflow as tf

        _READY = True
        return tf
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()  # probes the devices now, while notices are captured
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    _READY = True
    return tf
