"""Where a PyTorch training step goes: Keras 3's torch trainer (as `cnn train --backend torch` runs it) against
the same step written in plain PyTorch, part by part, for the Fashion-MNIST seed's net.

    python bench/torch_step.py [--batch-sizes 32,256] [--threads N] [--steps 120] [--compile 32]

For each batch size it times, step by step on one random batch (median over the steps after a warm-up):
- the forward pass, the loss, the backward pass, the optimizer and (Keras only) the compiled metrics, for
  Keras with the data in channels_last (what `cnn` builds: Keras' torch layers permute each conv and pool input
  to channels-first and back), Keras with every layer channels_first, and the plain PyTorch script's step
  (bench/plain_torch.py: nn.Sequential, CrossEntropyLoss, torch.optim.Adam);
- three checks that say whose the gap is: Keras' conv (no bias, then a separate add) against one conv with its
  bias; Keras' functional model called whole against its layers called one by one (the graph's own cost);
  and the copies (aten::copy_) PyTorch's profiler counts in one backward pass in each data format.
`--compile 32,...` adds, at those batch sizes, Keras' `jit_compile=True` (torch.compile) against eager, two epochs
of 200 steps each: the warm-up (the first epoch's extra time) and the steady step.

Prints a table per batch size and the ratios; nothing is written. Name the CPU with the figures
(`cnn_cli.backends.device.cpu_model()` is printed first).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conv_op import timed  # noqa: E402

PARTS = ("forward", "loss", "backward", "optimizer", "metrics")


def keras_net(data_format: str):
    import keras

    layers = keras.layers
    inputs = keras.Input((28, 28, 1) if data_format == "channels_last" else (1, 28, 28))
    h = layers.Conv2D(32, 3, padding="same", activation="relu", data_format=data_format)(inputs)
    h = layers.MaxPooling2D(2, data_format=data_format)(h)
    h = layers.Conv2D(64, 3, padding="same", activation="relu", data_format=data_format)(h)
    h = layers.MaxPooling2D(2, data_format=data_format)(h)
    h = layers.Flatten(data_format=data_format)(h)
    h = layers.Dropout(0.4)(layers.Dense(100, activation="relu")(h))
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(h))


def plain_net():
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 100), nn.ReLU(), nn.Dropout(0.4), nn.Linear(100, 10),
    )


def batch(size: int, data_format: str):
    import numpy as np
    import torch

    rng = np.random.default_rng(0)
    x = rng.random((size, 28, 28, 1), dtype=np.float32)
    if data_format != "channels_last":
        x = x.transpose(0, 3, 1, 2).copy()
    return torch.from_numpy(x), torch.from_numpy(rng.integers(0, 10, size))


def keras_parts(data_format: str, size: int, steps: int) -> dict[str, float]:
    """Milliseconds per part of Keras' torch train step (`TorchTrainer.train_step`, part by part)."""
    import torch

    model = keras_net(data_format)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = batch(size, data_format)
    model.fit(x.numpy(), y.numpy(), epochs=1, verbose=0)  # builds the optimizer and the metrics, as fit does
    times = {p: [] for p in PARTS}
    for _ in range(steps):
        t0 = time.perf_counter()
        y_pred = model(x, training=True)
        t1 = time.perf_counter()
        model.zero_grad()
        loss = model.compute_loss(x=x, y=y, y_pred=y_pred, training=True)
        t2 = time.perf_counter()
        loss.backward()
        t3 = time.perf_counter()
        weights = model.trainable_weights[:]
        with torch.no_grad():
            model.optimizer.apply([w.value.grad for w in weights], weights)
        t4 = time.perf_counter()
        model.compute_metrics(x, y, y_pred)
        t5 = time.perf_counter()
        for part, a, b in zip(PARTS, (t0, t1, t2, t3, t4), (t1, t2, t3, t4, t5)):
            times[part].append(b - a)
    return _medians(times)


def plain_parts(size: int, steps: int) -> dict[str, float]:
    import torch

    model = plain_net()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    x, y = batch(size, "channels_first")
    times = {p: [] for p in PARTS[:4]}
    for _ in range(steps):
        t0 = time.perf_counter()
        optimizer.zero_grad()
        out = model(x)
        t1 = time.perf_counter()
        loss = loss_fn(out, y)
        t2 = time.perf_counter()
        loss.backward()
        t3 = time.perf_counter()
        optimizer.step()
        t4 = time.perf_counter()
        for part, a, b in zip(PARTS[:4], (t0, t1, t2, t3), (t1, t2, t3, t4)):
            times[part].append(b - a)
    return _medians(times)


def _medians(times: dict[str, list[float]]) -> dict[str, float]:
    out = {p: 1e3 * statistics.median(v[len(v) // 5:]) for p, v in times.items()}  # the first fifth warms up
    out["step"] = sum(out.values())
    return out


def checks(size: int) -> list[str]:
    """The three checks that say whose each part of the gap is."""
    import torch
    import torch.nn.functional as F
    from torch.profiler import ProfilerActivity, profile

    lines = []
    x, _ = batch(size, "channels_first")
    conv = torch.nn.Conv2d(1, 32, 3, padding=1)
    with torch.no_grad():
        fused = timed(lambda: F.conv2d(x, conv.weight, conv.bias, padding=1), 60, 1)
        split = timed(lambda: F.conv2d(x, conv.weight, None, padding=1) + conv.bias[None, :, None, None], 60, 1)
    lines.append(f"  first conv, bias inside the conv {fused:6.2f} ms; conv then a separate add (Keras) {split:6.2f} ms "
                 f"({split / fused:.2f}x)")
    model = keras_net("channels_first")
    with torch.no_grad():
        whole = timed(lambda: model(x, training=True), 60, 1)

        def one_by_one():
            h = x
            for layer in model.layers[1:]:
                h = layer(h, training=True)
        alone = timed(one_by_one, 60, 1)
    lines.append(f"  Keras forward, model called whole {whole:6.2f} ms; its layers called one by one {alone:6.2f} ms "
                 f"(the functional graph's own cost: {whole - alone:+.2f} ms)")
    for data_format in ("channels_last", "channels_first"):
        net = keras_net(data_format)
        xb, _ = batch(size, data_format)
        for _ in range(2):
            net(xb, training=True).sum().backward()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            net(xb, training=True).sum().backward()
        copies = [e for e in prof.key_averages() if e.key == "aten::copy_"]
        count = copies[0].count if copies else 0
        ms = copies[0].self_cpu_time_total / 1e3 if copies else 0.0
        total = sum(e.self_cpu_time_total for e in prof.key_averages()) / 1e3
        lines.append(f"  Keras {data_format:<14} one forward and backward: {count:3d} copies, {ms:6.2f} ms of "
                     f"{total:6.2f} ms of ops")
    return lines


def compiled(size: int, steps: int = 200) -> str:
    """Keras' jit_compile=True (torch.compile) against eager, one epoch of `steps` steps each."""
    import numpy as np

    x, y = batch(size, "channels_last")
    xs, ys = np.repeat(x.numpy(), steps, axis=0), np.repeat(y.numpy(), steps, axis=0)
    out = {}
    for jit in (False, True):
        model = keras_net("channels_last")
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=jit)
        seconds = []
        for _ in range(2):
            start = time.perf_counter()
            model.fit(xs, ys, batch_size=size, epochs=1, verbose=0, shuffle=False)
            seconds.append(time.perf_counter() - start)
        out[jit] = seconds
    eager, jit = out[False][1] / steps * 1e3, out[True][1] / steps * 1e3
    return (f"  torch.compile (jit_compile=True): first epoch {out[True][0]:.1f} s against {out[False][0]:.1f} s "
            f"eager (warm-up {out[True][0] - out[False][0]:+.1f} s); steady step {jit:.2f} ms against {eager:.2f} ms "
            f"eager ({eager / jit:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", default="32,256")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: PyTorch's).")
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--compile", default="", metavar="SIZES",
                        help="Batch sizes at which to also time Keras' jit_compile=True (a slow warm-up).")
    args = parser.parse_args()
    import torch

    from cnn_cli.backends.device import cpu_cores, cpu_model

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"CPU: {cpu_model()}, {cpu_cores()} cores; torch {torch.__version__}, {torch.get_num_threads()} threads")
    for size in (int(s) for s in args.batch_sizes.split(",")):
        rows = {"Keras, channels_last (cnn)": keras_parts("channels_last", size, args.steps),
                "Keras, channels_first": keras_parts("channels_first", size, args.steps),
                "plain PyTorch": plain_parts(size, args.steps)}
        print(f"\nbatch {size}: milliseconds per training step (median of {args.steps - args.steps // 5} steps)")
        print(f"  {'':<28}" + "".join(f"{p:>10}" for p in (*PARTS, "step")) + f"{'images/s':>10}")
        for name, parts in rows.items():
            print(f"  {name:<28}" + "".join(f"{parts[p]:>10.2f}" if p in parts else f"{'-':>10}" for p in (*PARTS, "step"))
                  + f"{1e3 * size / parts['step']:>10.0f}")
        plain = rows["plain PyTorch"]["step"]
        print("  against plain PyTorch: " + ", ".join(f"{name} {plain / parts['step']:.2f}x"
                                                     for name, parts in rows.items() if name != "plain PyTorch"))
        for line in checks(size):
            print(line)
        if str(size) in args.compile.split(","):
            print(compiled(size))


if __name__ == "__main__":
    main()
