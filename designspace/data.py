"""Datasets for short training jobs, held in memory as uint8 tensors.

Design-space studies train hundreds of small models on small images, so every dataset is read
once into N x C x H x W uint8 tensors (Fashion-MNIST is 47 MB, CIFAR 180 MB) and batches are cut
from them by indexing: no DataLoader workers, no per-sample Python. Loaders never download: a
missing dataset is a one-line error saying where designspace looked and how to install it.
"""

from __future__ import annotations

import gzip
import os
import pickle
import warnings
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
DATASETS = ("fashion-mnist", "cifar10", "cifar100", "imagefolder", "synthetic")
TENSORS = ("train_images", "train_labels", "test_images", "test_labels")


@dataclass(frozen=True)
class Dataset:
    """Train and test images (uint8, N x C x H x W), labels (int64) and how to augment them."""

    name: str
    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    num_classes: int
    mean: tuple[float, ...]  # per channel, on the 0..1 scale
    std: tuple[float, ...]
    crop_padding: int = 0  # random crop after zero padding by this many pixels (0 = none)
    flip: bool = False  # random horizontal flips

    @property
    def in_channels(self) -> int:
        return int(self.train_images.shape[1])

    @property
    def resolution(self) -> int:
        return int(self.train_images.shape[2])

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, name).nbytes for name in TENSORS)

    def to_arrays(self) -> dict:
        """The dataset as numpy arrays and plain fields, which Ray's object store holds once per
        node and hands to every worker there without a copy (a sweep ships its data this way)."""
        return {
            f.name: getattr(self, f.name).numpy() if f.name in TENSORS else getattr(self, f.name) for f in fields(self)
        }

    @classmethod
    def from_arrays(cls, arrays: dict) -> Dataset:
        """The dataset of to_arrays, its tensors sharing the (read-only) arrays' memory."""
        with warnings.catch_warnings():  # the object store's arrays are read-only; training only reads them
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            return cls(**{k: torch.from_numpy(v) if k in TENSORS else v for k, v in arrays.items()})

    def subset(self, train: int | None = None, test: int | None = None, seed: int = 0) -> Dataset:
        """A seeded random subset of the train and/or test split (for quick CPU studies)."""
        generator = torch.Generator().manual_seed(seed)
        changes = {}
        for split, size in (("train", train), ("test", test)):
            if size is None:
                continue
            images, labels = getattr(self, f"{split}_images"), getattr(self, f"{split}_labels")
            if not 1 <= size <= len(labels):
                raise ValueError(f"{split} subset: asked for {size} images, the {split} split has {len(labels)}")
            keep = torch.randperm(len(labels), generator=generator)[:size].sort().values
            changes[f"{split}_images"], changes[f"{split}_labels"] = images[keep], labels[keep]
        return replace(self, **changes)

    def resized(self, resolution: int) -> Dataset:
        """The images shrunk to resolution x resolution (area averaging, i.e. antialiased), for a
        network sampled with a resolution multiplier rho < 1 (MobileNet). Enlarging adds no
        information and is refused."""
        if resolution == self.resolution:
            return self
        if not 1 <= resolution < self.resolution:
            raise ValueError(
                f"{self.name} has {self.resolution}x{self.resolution} images; they can be shrunk for a "
                f"network's input but not enlarged to {resolution}x{resolution}"
            )

        def shrink(images):
            small = torch.nn.functional.interpolate(images.float(), size=(resolution, resolution), mode="area")
            return small.round().clamp(0, 255).to(torch.uint8)

        padding = max(1, round(self.crop_padding * resolution / self.resolution)) if self.crop_padding else 0
        return replace(
            self, train_images=shrink(self.train_images), test_images=shrink(self.test_images), crop_padding=padding
        )

    def describe(self) -> str:
        return (
            f"{self.name}: {len(self.train_labels):,} train / {len(self.test_labels):,} test images, "
            f"{self.in_channels}x{self.resolution}x{self.resolution}, {self.num_classes} classes"
        )


def load_dataset(
    name: str, data_dir=None, resolution: int | None = None, seed: int = 0, origin: str | None = None
) -> Dataset:
    """A dataset by name. data_dir (or $DESIGNSPACE_DATA) says where its files are; a folder
    that was asked for must exist (it is never replaced by the default one, which would train
    on other data silently). origin names where data_dir came from (--data-dir, ...) for the
    message."""
    if name == "synthetic":
        return synthetic(seed=seed, resolution=resolution or 16)
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if not data_dir and os.environ.get("DESIGNSPACE_DATA"):
        data_dir, origin = os.environ["DESIGNSPACE_DATA"], "DESIGNSPACE_DATA"
    data_dir = Path(data_dir) if data_dir else None
    if data_dir is not None and not data_dir.is_dir():
        problem = "is not a folder" if data_dir.exists() else "does not exist"
        source = f" (from {origin})" if origin else ""
        raise ValueError(f"data folder {data_dir}{source} {problem}; give the folder that holds the {name} files")
    if name == "fashion-mnist":
        return fashion_mnist(data_dir)
    if data_dir is None:
        raise ValueError(f"dataset {name}: give --data-dir (or set DESIGNSPACE_DATA) with its files")
    if name == "cifar10":
        return cifar(data_dir, 10)
    if name == "cifar100":
        return cifar(data_dir, 100)
    return image_folder(data_dir, resolution or 32)


# ---------------------------------------------------------------------------- Fashion-MNIST
FASHION_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def fashion_mnist(data_dir=None) -> Dataset:
    """Fashion-MNIST from its four IDX files (gzipped or not), in data_dir if given (only there:
    a folder asked for is never swapped for the default), else in Debian's folder."""
    folder = Path(data_dir) if data_dir else DEBIAN_FASHION_MNIST
    if not all(_idx_path(folder, n) for n in FASHION_MNIST_FILES.values()):
        raise ValueError(
            f"Fashion-MNIST not found in {folder}: install Debian's dataset-fashion-mnist "
            "(apt-get install dataset-fashion-mnist) or pass --data-dir with train-images-idx3-ubyte[.gz] etc."
        )
    arrays = {key: read_idx(_idx_path(folder, name)) for key, name in FASHION_MNIST_FILES.items()}
    return Dataset(
        name="fashion-mnist",
        train_images=torch.from_numpy(arrays["train_images"][:, None].copy()),
        train_labels=torch.from_numpy(arrays["train_labels"].astype(np.int64)),
        test_images=torch.from_numpy(arrays["test_images"][:, None].copy()),
        test_labels=torch.from_numpy(arrays["test_labels"].astype(np.int64)),
        num_classes=10,
        mean=(0.2860,),
        std=(0.3530,),
        crop_padding=2,
        flip=True,
    )


def _idx_path(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format): magic 0x00 0x00 type ndim, big-endian sizes, data."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise ValueError(f"{path}: holds {body.size} bytes of data, its header says {shape}")
    return body.reshape(shape)


# ----------------------------------------------------------------------------------- CIFAR
def cifar(data_dir: Path, classes: int) -> Dataset:
    """CIFAR-10/100 from the standard python-pickle folders (cifar-10-batches-py, cifar-100-python)."""
    data_dir = Path(data_dir)
    sub = "cifar-10-batches-py" if classes == 10 else "cifar-100-python"
    folder = data_dir / sub if (data_dir / sub).is_dir() else data_dir
    train_files = [folder / f"data_batch_{i}" for i in range(1, 6)] if classes == 10 else [folder / "train"]
    test_files = [folder / ("test_batch" if classes == 10 else "test")]
    missing = [str(f) for f in train_files + test_files if not f.is_file()]
    if missing:
        raise ValueError(
            f"CIFAR-{classes} not found: missing {missing[0]}; pass --data-dir with the python "
            f"version of the dataset ({sub})"
        )
    key = b"labels" if classes == 10 else b"fine_labels"
    train = [_unpickle(f, key) for f in train_files]
    test = _unpickle(test_files[0], key)
    mean, std = (
        ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))
        if classes == 10
        else ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762))
    )
    return Dataset(
        name=f"cifar{classes}",
        train_images=torch.cat([t[0] for t in train]),
        train_labels=torch.cat([t[1] for t in train]),
        test_images=test[0],
        test_labels=test[1],
        num_classes=classes,
        mean=mean,
        std=std,
        crop_padding=4,
        flip=True,
    )


def _unpickle(path: Path, label_key: bytes):
    try:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
        images = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        labels = np.asarray(batch[label_key], dtype=np.int64)
    except (pickle.UnpicklingError, KeyError, ValueError, EOFError) as e:
        raise ValueError(f"{path}: not a CIFAR python batch ({type(e).__name__})") from None
    return torch.from_numpy(images.copy()), torch.from_numpy(labels)


# ----------------------------------------------------------------------------- ImageFolder
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".ppm", ".tif", ".tiff"}


def image_folder(root: Path, resolution: int, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """A tree root/CLASS/*.png (or root/train/CLASS and root/test|val/CLASS), resized to a square.

    Without separate train and test folders, a seeded test_fraction of each class is held out.
    """
    from PIL import Image

    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"image folder {root} does not exist")
    splits = {s: root / s for s in ("train", "test", "val") if (root / s).is_dir()}
    test_dir = splits.get("test", splits.get("val"))
    tree_roots = [splits["train"], test_dir] if "train" in splits and test_dir else [root]
    classes = sorted(d.name for d in tree_roots[0].iterdir() if d.is_dir())
    if not classes:
        raise ValueError(f"image folder {tree_roots[0]}: expected one sub-folder per class")

    def read_tree(folder: Path):
        images, labels = [], []
        for label, cls in enumerate(classes):
            for f in sorted((folder / cls).iterdir()) if (folder / cls).is_dir() else []:
                if f.suffix.lower() in IMAGE_SUFFIXES:
                    with Image.open(f) as im:
                        im = im.convert("RGB").resize((resolution, resolution), Image.BILINEAR)
                        images.append(np.asarray(im, dtype=np.uint8).transpose(2, 0, 1))
                    labels.append(label)
        if not images:
            raise ValueError(f"image folder {folder}: no images found")
        return torch.from_numpy(np.stack(images)), torch.tensor(labels, dtype=torch.int64)

    if len(tree_roots) == 2:
        (train_x, train_y), (test_x, test_y) = read_tree(tree_roots[0]), read_tree(tree_roots[1])
    else:
        images, labels = read_tree(root)
        generator = torch.Generator().manual_seed(seed)
        test_mask = torch.zeros(len(labels), dtype=torch.bool)
        for label in range(len(classes)):
            members = torch.nonzero(labels == label).flatten()
            held = members[
                torch.randperm(len(members), generator=generator)[: int(round(len(members) * test_fraction))]
            ]
            test_mask[held] = True
        train_x, train_y, test_x, test_y = images[~test_mask], labels[~test_mask], images[test_mask], labels[test_mask]
    scaled = train_x.float().div_(255)
    mean = tuple(scaled.mean(dim=(0, 2, 3)).tolist())
    std = tuple(scaled.std(dim=(0, 2, 3)).clamp_min(1e-3).tolist())
    return Dataset(
        name=f"imagefolder:{root.name}",
        train_images=train_x,
        train_labels=train_y,
        test_images=test_x,
        test_labels=test_y,
        num_classes=len(classes),
        mean=mean,
        std=std,
        crop_padding=max(1, resolution // 8),
        flip=True,
    )


# ------------------------------------------------------------------------------- synthetic
def synthetic(
    seed: int = 0, resolution: int = 16, num_classes: int = 4, channels: int = 3, train: int = 512, test: int = 256
) -> Dataset:
    """Seeded, learnable images: each class is a fixed random pattern plus noise."""
    generator = torch.Generator().manual_seed(seed)
    prototypes = torch.rand(num_classes, channels, resolution, resolution, generator=generator)

    def split(n):
        labels = torch.randint(0, num_classes, (n,), generator=generator)
        noise = torch.rand(n, channels, resolution, resolution, generator=generator)
        images = (0.6 * prototypes[labels] + 0.4 * noise).mul(255).round().to(torch.uint8)
        return images, labels

    (train_x, train_y), (test_x, test_y) = split(train), split(test)
    return Dataset(
        name="synthetic",
        train_images=train_x,
        train_labels=train_y,
        test_images=test_x,
        test_labels=test_y,
        num_classes=num_classes,
        mean=(0.5,) * channels,
        std=(0.25,) * channels,
    )
