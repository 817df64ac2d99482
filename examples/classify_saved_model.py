"""Classify an image with a model from `cnn export --format saved_model`:
python classify_saved_model.py saved_model/ image.png

Needs only numpy, pillow and tensorflow. The class map is in the folder, assets.extra/labels.json."""

import json
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up notices
import tensorflow as tf  # noqa: E402

model_path, image_path = Path(sys.argv[1]), sys.argv[2]
labels = json.loads((model_path / "assets.extra" / "labels.json").read_text(encoding="utf-8"))
_, height, width, channels = labels["input"]["shape"]
image = Image.open(image_path).convert({1: "L", 3: "RGB", 4: "RGBA"}[channels]).resize((width, height))
pixels = np.asarray(image, dtype=np.uint8).reshape(1, height, width, channels)  # 0..255, as in the file
serve = tf.saved_model.load(str(model_path)).signatures["serving_default"]
probabilities = serve(image=tf.constant(pixels))["probabilities"].numpy()[0]
for i in np.argsort(-probabilities)[:3]:
    print(f"{labels['classes'][i]['name']}\t{probabilities[i]:.4f}")
