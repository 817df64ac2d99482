"""`cnn export`: a trained run's model as a TensorFlow SavedModel, an ONNX file or a LiteRT file, verified.

The exported model takes images as people have them, uint8 (batch, height, width, channels), and returns
float32 class probabilities; the pixel scaling the model was trained with is inside it. A mixed-precision
model is exported in float32. The class map (index, id, name), the run's config hash and the verification
go beside it as `<file>.labels.json` (and into ONNX's metadata_props, and a SavedModel's assets.extra/).
After writing under a temporary name, the export is run by its own runtime on the run's test split and
compared with the Keras model (`verify`); only an export that passes is renamed into place.

Modules: `exporter` (the steps), `source` (the run read back, the float32 and uint8 models), `support`
(which layer kinds export to which format), `rewrite` (equivalents for the layers a converter mishandles),
one module per format, `verify`, `output` (paths and atomic placement), `runtimes` (the optional packages).
"""
