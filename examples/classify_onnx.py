"""Classify an image with a model from `cnn export --format onnx`: python classify_onnx.py model.onnx image.png

Needs only numpy, pillow and onnxruntime. The class map is in the model's own metadata."""

import json
import sys

import numpy as np
import onnxruntime
from PIL import Image

model_path, image_path = sys.argv[1], sys.argv[2]
session = onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])
metadata = session.get_modelmeta().custom_metadata_map
classes = json.loads(metadata["classes"])
_, height, width, channels = json.loads(metadata["input"])["shape"]
image = Image.open(image_path).convert({1: "L", 3: "RGB", 4: "RGBA"}[channels]).resize((width, height))
pixels = np.asarray(image, dtype=np.uint8).reshape(1, height, width, channels)  # 0..255, as in the file
probabilities = session.run(["probabilities"], {"image": pixels})[0][0]
for i in np.argsort(-probabilities)[:3]:
    print(f"{classes[i]['name']}\t{probabilities[i]:.4f}")
