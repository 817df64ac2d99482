"""TensorFlow as Keras' backend: its quiet start-up (GPU memory growth on), devices, seeding, precision
choice, and the `tf.distribute` strategies (the custom loop for those where Keras' fit fails is
`tensorflow_loop`): the class `TensorFlow`, the `Backend` (`cnn_cli.backends.base`) that offers every optional
capability. `start()` is also a function here, for export's TensorFlow formats.

TensorFlow's C++ runtime writes start-up notices (oneDNN, CUDA probing) straight to file descriptor 2, where
Python cannot filter them; `start` captures them while TensorFlow starts and shows them only if it fails.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from types import ModuleType

from cnn_cli.backends import device, register, single
from cnn_cli.backends.base import Backend
from cnn_cli.errors import CnnError

_started = False
# TensorFlow allows one MultiWorkerMirroredStrategy per process, and logical devices cannot be undone:
# strategies are made once per process and setting, and kept here.
_strategies: dict[str, tuple] = {}


def start() -> ModuleType:
    """Returns the `tensorflow` module, started with its notices captured (CNN_TF_VERBOSE=1 shows them)."""
    global _started
    if _started or os.environ.get("CNN_TF_VERBOSE"):
        import tensorflow as tf

        if not _started:
            _grow_gpu_memory(tf)
        _started = True
        return tf
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()  # probes the devices now, while notices are captured
            _grow_gpu_memory(tf)
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    _started = True
    return tf


def _grow_gpu_memory(tf) -> None:
    """GPU memory taken as needed rather than all at once, so that an evaluation can run beside a training."""
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # the GPU was initialized already (a second start in the same process)
            pass


def _cpu_count_wanted(devices: list[str]) -> int:
    cpus = [int(d.rsplit(":", 1)[1]) for d in devices if "cpu" in d.lower()]
    return max(cpus) + 1 if cpus else 0


def _logical_cpus(tf, wanted: int) -> None:
    """Splits the CPU into `wanted` logical devices (for mirrored over '/cpu:0', '/cpu:1', ...)."""
    cpus = tf.config.list_physical_devices("CPU")
    if wanted <= len(tf.config.get_logical_device_configuration(cpus[0]) or [None]):
        return
    try:
        tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * wanted)
    except RuntimeError as exc:
        raise CnnError(f"distribute.devices: cannot make {wanted} logical CPU devices ({exc})") from None


def _cluster_resolver(tf, slurm: bool):
    if slurm:
        return tf.distribute.cluster_resolver.SlurmClusterResolver(
            port_base=int(os.environ.get("CNN_SLURM_PORT_BASE", "8888")),
            gpus_per_node=None if shutil.which("nvidia-smi") else 0,
        )
    return tf.distribute.cluster_resolver.TFConfigClusterResolver()


@register
class TensorFlow(Backend):
    NAME, LABEL, PACKAGE = "tensorflow", "TensorFlow", "tensorflow"
    CAPABILITIES = frozenset({"gradcam", "custom_fit", "tf_distribute"})

    def start(self) -> ModuleType:
        return start()

    def tensorboard_problem(self) -> str | None:
        return None

    def gpu_names(self) -> list[str]:
        tf = start()
        return [tf.config.experimental.get_device_details(g).get("device_name", "GPU")
                for g in tf.config.list_physical_devices("GPU")]

    def devices_used(self, strategy) -> device.Devices:
        """The devices `strategy` (None: TensorFlow's default placement, the first GPU or the CPU) computes on."""
        names = self.gpu_names()
        if strategy is None:
            return device.Devices(gpus=tuple(names[:1]))
        used = [d.lower() for d in strategy.extended.worker_devices]
        gpus = [names[int(d.rsplit(":", 1)[1])] if int(d.rsplit(":", 1)[1]) < len(names) else "GPU"
                for d in used if "gpu:" in d]
        return device.Devices(gpus=tuple(gpus), cpus=max(1, sum("cpu:" in d for d in used)))

    def cpu_precision(self) -> str:
        """`precision: auto` on a CPU: mixed_bfloat16 where the CPU has bf16 instructions (measured faster on
        TensorFlow: docs/backends.md, "Precision"), float32 elsewhere."""
        return "mixed_bfloat16" if device.cpu_has_fast_bf16() else "float32"

    def seed_everything(self, seed: int, deterministic: bool = False) -> None:
        """Seeds Python's `random`, NumPy and the backend; `deterministic` turns on TensorFlow's op determinism."""
        tf = start()
        import keras

        keras.utils.set_random_seed(seed)
        if deterministic:
            tf.config.experimental.enable_op_determinism()

    def gpu_precision(self) -> str | None:
        """The mixed policy for the first GPU: bf16 from compute capability 8.0 (Ampere), fp16 on 7.x (Volta,
        Turing), float32 on older cards; None without a GPU."""
        tf = start()
        gpus = tf.config.list_physical_devices("GPU")
        if not gpus:
            return None
        major, _ = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability", (0, 0))
        return device.gpu_policy(major)

    # ------------------------------------------------------------ tf.distribute

    def steps_per_execution(self, wanted: int) -> int:
        """Training steps per call into the compiled function: as configured."""
        return wanted

    def fit_works_under(self, strategy) -> bool:
        """Whether Keras' own `model.fit` and `model.evaluate` train correctly under `strategy`.

        THE ONE SWITCH. With TensorFlow 2.21 and Keras 3.15:
        - under MultiWorkerMirroredStrategy both fail ("Attempt to convert a value (PerReplica:{...}) with an
          unsupported type ... to a Tensor", https://github.com/keras-team/keras/issues/20585);
        - under MirroredStrategy over more than one device, `fit` with steps_per_execution > 1 (this tool's
          default, 32) fails in its multi-step while loop ("You must feed a value for placeholder tensor
          'while/body/.../Placeholder_1'").
        Those go through `tensorflow_loop` (`strategy.run(model.train_step, ...)` in a `tf.function` over
        `strategy.experimental_distribute_dataset`). When a Keras release fixes them, return True here (for
        that version on) and every strategy trains with `model.fit` again.
        """
        if strategy is None:
            return True
        tf = start()
        if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return False  # keras-team/keras#20585
        return not (isinstance(strategy, tf.distribute.MirroredStrategy) and strategy.num_replicas_in_sync > 1)

    def default_strategy(self):
        return start().distribute.get_strategy()

    def lost_worker_errors(self) -> tuple[type[Exception], ...]:
        """The errors a collective operation raises when another worker died or cannot be reached."""
        e = start().errors
        return (e.UnavailableError, e.DeadlineExceededError, e.CancelledError, e.AbortedError, e.InternalError)

    def check_devices(self, settings) -> None:
        """Refuses a device of `distribute.devices` that this machine does not have (a GPU asked for on a CPU
        machine would otherwise train on the CPU in silence)."""
        if settings.strategy == "data_parallel":
            raise CnnError("distribute.strategy data_parallel: Keras' distribution engine runs on JAX (--backend "
                           "jax); on TensorFlow use mirrored (one machine) or multi_worker (several)")
        gpus = len(start().config.list_physical_devices("GPU"))
        for name in settings.devices or ():
            single.check_gpu_index(name, gpus)

    def _make(self, settings, slurm: bool) -> tuple:
        tf = start()
        self.check_devices(settings)
        name = settings.strategy
        if name == "auto":
            name = "mirrored" if len(tf.config.list_physical_devices("GPU")) > 1 else "default"
        if name == "default":
            return None, "default"
        if name == "one_device":
            gpus = tf.config.list_physical_devices("GPU")
            device = settings.devices[0] if settings.devices else ("/gpu:0" if gpus else "/cpu:0")
            _logical_cpus(tf, _cpu_count_wanted([device]))
            return tf.distribute.OneDeviceStrategy(device), name
        if name == "mirrored":
            if settings.devices:
                _logical_cpus(tf, _cpu_count_wanted(settings.devices))
            return tf.distribute.MirroredStrategy(devices=settings.devices), name
        options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=settings.timeout_seconds)
        return tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=_cluster_resolver(tf, slurm),
                                                         communication_options=options), name

    def make_strategy(self, settings, *, slurm: bool = False, worker=None) -> tuple:
        """(strategy or None for TensorFlow's default, its name) for a `distribute` section; `slurm`: the
        multi-worker cluster comes from Slurm rather than TF_CONFIG. Made once per process and setting."""
        key = settings.model_dump_json()
        if key not in _strategies:
            try:
                _strategies[key] = self._make(settings, slurm)
            except (ValueError, RuntimeError) as exc:
                raise CnnError(f"distribute.strategy {settings.strategy}: {exc}") from None
        return _strategies[key]

    # ------------------------------------------------------------ optional capabilities, all offered

    def custom_fit(self, model, strategy, train_ds, **kwargs):
        from cnn_cli.backends import tensorflow_loop

        return tensorflow_loop.fit(model, strategy, train_ds, **kwargs)

    def custom_evaluate(self, model, strategy, ds):
        from cnn_cli.backends import tensorflow_loop

        return tensorflow_loop.evaluate(model, strategy, ds)

    def feature_gradients(self, sub, x, score):
        """`sub(x)` = (feature maps, head) and the gradient of `score(head)` (one number per input) with respect
        to the feature maps, both as float32 NumPy arrays (the gradient None when the score does not depend on
        them): Grad-CAM's one backend-specific step (`cnn_cli.inference.gradcam`), by GradientTape."""
        import tensorflow as tf

        inputs = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(inputs)  # so that maps which depend on no weight (a pooling after the input) are recorded too
            features, head = sub(inputs, training=False)
            total = score(head)
        grads = tape.gradient(total, features)
        return (tf.cast(features, tf.float32).numpy(),
                None if grads is None else tf.cast(grads, tf.float32).numpy())
