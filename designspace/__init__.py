"""designspace: sample, train and compare populations of networks from design spaces.

Importing the package is cheap: torch (build_model) and the heavier layers load on first use,
so that `designspace sample` starts in a fraction of a second.
"""

from __future__ import annotations

import importlib

from .complexity import complexity
from .spec import ModelSpec

__version__ = "0.1.0"

_LAZY = {
    "build_model": ("designspace.model", "build_model"),
    "from_pycls": ("designspace.pycls_config", "from_pycls"),
    "load_space": ("designspace.space_file", "load_space"),
    "regnet": ("designspace.regnet", None),
    "analysis": ("designspace.analysis", None),
    "zoo": ("designspace.zoo", None),
}

__all__ = ["ModelSpec", "complexity", *_LAZY]


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'designspace' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value
