"""Classify an image with a model from `cnn export --format litert`: python classify_litert.py model.tflite image.png

Needs only numpy, pillow and ai-edge-litert. The class map is model.tflite.labels.json, beside the model."""

import json
import sys

import numpy as np
from ai_edge_litert.interpreter import Interpreter
from PIL import Image

model_path, image_path = sys.argv[1], sys.argv[2]
labels = json.load(open(model_path + ".labels.json", encoding="utf-8"))
_, height, width, channels = labels["input"]["shape"]
image = Image.open(image_path).convert({1: "L", 3: "RGB", 4: "RGBA"}[channels]).resize((width, height))
pixels = np.asarray(image, dtype=np.uint8).reshape(1, height, width, channels)  # 0..255, as in the file
interpreter = Interpreter(model_path=model_path)
interpreter.allocate_tensors()
interpreter.set_tensor(interpreter.get_input_details()[0]["index"], pixels)
interpreter.invoke()
probabilities = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0]
for i in np.argsort(-probabilities)[:3]:
    print(f"{labels['classes'][i]['name']}\t{probabilities[i]:.4f}")
