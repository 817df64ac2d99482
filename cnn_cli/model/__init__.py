"""The model: shape and cost analysis (pure Python), custom layers, and the Keras builder."""
