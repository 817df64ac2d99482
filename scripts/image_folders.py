"""Writes folders of PNG images made from the bundled samples, to try `cnn` on image folders as people have
them (README's walkthrough uses them):

    python scripts/image_folders.py digits my_digits     # 10 MNIST test digits, one inverted, plus junk files
    python scripts/image_folders.py clothes my_images    # 3 classes x 40 colour 32x32 images, one folder each

`digits` writes my_digits/digit-N.png (white on black, as MNIST), my_digits/inverted-7.png (black on white)
and the files a real folder has (Thumbs.db, README.txt). `clothes` writes my_images/<class>/NN.png from the
Fashion-MNIST sample's T-shirts, trousers and sneakers, each class tinted a colour, and a Thumbs.db.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

DATA = Path(__file__).resolve().parents[1] / "data"
CLOTHES = {0: ("tshirt", (1.0, 0.35, 0.35)), 1: ("trouser", (0.35, 1.0, 0.35)), 7: ("sneaker", (0.35, 0.35, 1.0))}


def digits(out: Path) -> None:
    data = np.load(DATA / "mnist_sample.npz")
    out.mkdir(parents=True, exist_ok=True)
    for i, (image, label) in enumerate(zip(data["x_test"][:10], data["y_test"][:10])):
        Image.fromarray(image).save(out / f"digit-{i}-label-{label}.png")
    seven = data["x_test"][data["y_test"] == 7][0]
    Image.fromarray(255 - seven).save(out / "inverted-7.png")
    (out / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0 not an image")
    (out / "README.txt").write_text("ten digits from the MNIST test set\n", encoding="utf-8")


def clothes(out: Path, per_class: int = 40) -> None:
    data = np.load(DATA / "fashion_mnist_sample.npz")
    for label, (name, tint) in CLOTHES.items():
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(data["x_train"][data["y_train"] == label][:per_class]):
            rgb = (np.stack([image] * 3, axis=-1) * np.array(tint)).astype(np.uint8)
            Image.fromarray(rgb).resize((32, 32), Image.Resampling.BILINEAR).save(folder / f"{i:02d}.png")
    (out / "tshirt" / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0 not an image")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("digits", "clothes"))
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    (digits if args.kind == "digits" else clothes)(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
