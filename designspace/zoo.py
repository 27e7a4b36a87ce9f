"""The zoo: named networks (ResNet-50, RegNetX-400MF, ...) and their published sizes.

The networks are data (zoo.toml, which says how entries are written), so that adding one is a few
lines that a test checks against its published parameter count, never code. A name is looked up
in lower case with "_" for "-" and ".", so pycls's "RegNetX-1.6GF" finds regnetx_1_6gf.
"""

from __future__ import annotations

import difflib
import functools
import tomllib
from importlib import resources

from .regnet import make_spec
from .spec import ModelSpec


@functools.cache
def _entries() -> dict[str, dict]:
    return tomllib.loads(resources.files("designspace").joinpath("zoo.toml").read_text())


def names() -> list[str]:
    """Every network of the zoo, in the data file's order (families together, smallest first)."""
    return list(_entries())


def entry(name: str) -> dict:
    """What is published about a network: {"name", "published": {"params", and where published
    "flops", "acts"}, "source", "note" (may be empty)}."""
    key = _key(name)
    data = _entries()[key]
    return {"name": key, "published": dict(data["published"]), "source": data["source"], "note": data.get("note", "")}


def spec(name: str, **overrides) -> ModelSpec:
    """The network's ModelSpec (ImageNet's 1000 classes at 224 px), with ModelSpec fields
    replaced by `overrides`: spec("densenet121", resolution=97, num_classes=10)."""
    return ModelSpec.from_dict({**_fields(_key(name)), **overrides})


def _fields(key: str) -> dict:
    """The ModelSpec fields of an entry: its RegNet's or its base entry's, updated by its own."""
    data = _entries()[key]
    if "regnet" in data:
        base = make_spec(**data["regnet"]).to_dict()
    elif "extends" in data:
        base = _fields(data["extends"])
    else:
        base = {}
    return {**base, **data.get("spec", {})}


def _key(name: str) -> str:
    key = str(name).strip().lower().replace("-", "_").replace(".", "_")
    if key in _entries():
        return key
    close = sorted(difflib.get_close_matches(key, names(), n=3), key=names().index)
    listed = ", ".join(close[:-1]) + " or " * (len(close) > 1) + "".join(close[-1:])
    hint = f"did you mean {listed}?" if close else "designspace.zoo.names() and `designspace zoo` list them"
    raise ValueError(f"no network {name!r} in the zoo; {hint}")
