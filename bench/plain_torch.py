"""The PyTorch baseline: the Fashion-MNIST seed's net written by hand in PyTorch, the way most people write it
-- eager, a `DataLoader` over float tensors, Adam, the same epochs, split and batch size as bench/plain_keras.py.

    python bench/plain_torch.py --epochs 3 [--data PATH] [--batch-size 32] [--compile] [--threads N]

`--compile` wraps the model in `torch.compile` (it needs a C compiler at run time; its warm-up lands in the
first epoch, which bench/run.py leaves out of the steady figure and keeps in the whole process's time).
Prints one JSON line with the epoch times and accuracies, for bench/run.py.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from plain_keras import load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--data", default=None)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--compile", action="store_true", help="torch.compile the model.")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: PyTorch's).")
    args = parser.parse_args()

    import torch
    from sklearn.model_selection import train_test_split
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    (train_input, train_target), (test_input, test_target) = load(args.data)
    train_scaled = train_input.reshape(-1, 1, 28, 28).astype(np.float32) / 255.0
    test_scaled = test_input.reshape(-1, 1, 28, 28).astype(np.float32) / 255.0
    train_scaled, val_scaled, train_target, val_target = train_test_split(
        train_scaled, train_target, test_size=0.2, random_state=42
    )

    def loader(x, y, shuffle):
        return DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))),
                          batch_size=args.batch_size, shuffle=shuffle)

    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 100), nn.ReLU(), nn.Dropout(0.4), nn.Linear(100, 10),
    )
    net = torch.compile(model) if args.compile else model
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    train_loader = loader(train_scaled, train_target, True)

    def accuracy(x, y) -> float:
        model.eval()
        right = 0
        with torch.no_grad():
            for xb, yb in loader(x, y, False):
                right += int((net(xb).argmax(1) == yb).sum())
        return right / len(y)

    seconds, val_accuracy = [], None
    for _ in range(args.epochs):
        start = time.perf_counter()
        model.train()
        for xb, yb in train_loader:
            optimizer.zero_grad()
            loss = loss_fn(net(xb), yb)
            loss.backward()
            optimizer.step()
        val_accuracy = accuracy(val_scaled, val_target)  # inside the epoch's time, as Keras' fit counts it
        seconds.append(time.perf_counter() - start)
    print(json.dumps({
        "runner": "plain_torch_compile" if args.compile else "plain_torch",
        "train_examples": int(len(train_scaled)),
        "epoch_seconds": seconds,
        "val_accuracy": float(val_accuracy),
        "test_accuracy": float(accuracy(test_scaled, test_target)),
        "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
