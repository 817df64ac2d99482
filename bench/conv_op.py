"""One convolution timed alone on each backend's own kernels: the seed net's second conv (28x28, 32 -> 64
channels, 3x3, same padding), forward and forward + backward (the gradients of the input and the kernel), with
the backend's own API and no Keras in between -- TensorFlow (`tf.nn.conv2d` in a `tf.function`: oneDNN), JAX
(`lax.conv_general_dilated` under `jax.jit`: XLA's CPU convolutions) and PyTorch (`F.conv2d`: oneDNN).

    python bench/conv_op.py [--batch-size 32] [--backends tensorflow,jax,torch] [--threads N]

Each backend runs in its own process (median of 50 calls after two warm-ups) and prints one line; the last
lines give each backend against TensorFlow. Name the CPU with the figures (printed first).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SHAPE, KERNEL = (28, 28, 32), (3, 3, 32, 64)


def timed(fn, repeats: int = 50, warmups: int = 2) -> float:
    """Milliseconds per call of `fn`: the median of `repeats` calls after `warmups` untimed ones."""
    for _ in range(warmups):
        fn()
    values = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        values.append(time.perf_counter() - start)
    return 1e3 * statistics.median(values)


def measure(backend: str, batch: int) -> dict:
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.random((batch, *SHAPE), dtype=np.float32)
    w = rng.random(KERNEL, dtype=np.float32)
    if backend == "tensorflow":
        import tensorflow as tf

        xt, wt = tf.constant(x), tf.constant(w)
        forward = tf.function(lambda: tf.nn.conv2d(xt, wt, 1, "SAME"))

        @tf.function
        def both():
            with tf.GradientTape() as tape:
                tape.watch([xt, wt])
                total = tf.reduce_sum(tf.nn.conv2d(xt, wt, 1, "SAME"))
            return tape.gradient(total, [xt, wt])

        return {"forward": timed(lambda: forward().numpy()), "both": timed(lambda: [g.numpy() for g in both()])}
    if backend == "jax":
        import jax

        xj, wj = jax.numpy.asarray(x), jax.numpy.asarray(w)

        def conv(a, b):
            return jax.lax.conv_general_dilated(a, b, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))

        forward = jax.jit(conv)
        both = jax.jit(jax.grad(lambda a, b: conv(a, b).sum(), argnums=(0, 1)))
        return {"forward": timed(lambda: forward(xj, wj).block_until_ready()),
                "both": timed(lambda: jax.block_until_ready(both(xj, wj)))}
    import torch
    import torch.nn.functional as F

    xp = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).requires_grad_()
    wp = torch.from_numpy(w.transpose(3, 2, 0, 1).copy()).requires_grad_()

    def both():
        xp.grad = wp.grad = None
        F.conv2d(xp, wp, padding=1).sum().backward()

    with torch.no_grad():
        forward = timed(lambda: F.conv2d(xp, wp, padding=1))
    return {"forward": forward, "both": timed(both)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--threads", type=int, default=None, help="Threads per backend (default: each one's own).")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # the child process: one backend
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.batch_size)))
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from cnn_cli.backends.device import cpu_cores, cpu_model

    print(f"CPU: {cpu_model()}, {cpu_cores()} cores; batch {args.batch_size}, input {SHAPE}, kernel {KERNEL}, "
          f"milliseconds (median of 50 calls)")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    if args.threads:
        env.update(OMP_NUM_THREADS=str(args.threads), TF_NUM_INTRAOP_THREADS=str(args.threads),
                   TF_NUM_INTEROP_THREADS="1",
                   XLA_FLAGS=f"--xla_cpu_multi_thread_eigen={'false' if args.threads == 1 else 'true'}")
    results = {}
    for backend in (b.strip() for b in args.backends.split(",") if b.strip()):
        done = subprocess.run([sys.executable, __file__, "--one", backend, "--batch-size", str(args.batch_size)],
                              capture_output=True, text=True, env=env)
        if done.returncode != 0:
            print(f"  {backend:<11} failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
            continue
        results[backend] = json.loads(done.stdout.strip().splitlines()[-1])
        r = results[backend]
        print(f"  {backend:<11} forward {r['forward']:7.2f}   forward + backward {r['both']:7.2f}")
    if "tensorflow" in results:
        base = results["tensorflow"]
        for backend, r in results.items():
            if backend != "tensorflow":
                print(f"  {backend} against TensorFlow: forward {base['forward'] / r['forward']:.2f}x, "
                      f"forward + backward {base['both'] / r['both']:.2f}x")


if __name__ == "__main__":
    main()
