"""The tool's own Keras layers (what Keras lacks), registered under the package name `cnn`.

Importing this package imports every module in it, so each layer is registered for deserialization.
"""

import importlib
import pkgutil

for _info in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_info.name}")
