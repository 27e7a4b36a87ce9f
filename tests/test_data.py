"""Every dataset format, written by the tests in its real on-disk format, then loaded."""

import gzip
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from designspace.data import fashion_mnist, load_dataset, read_idx, synthetic
from designspace.train import Batches, Recipe


def write_idx(path, array: np.ndarray, compress: bool):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)


@pytest.fixture
def fashion_dir(tmp_path):
    rng = np.random.default_rng(0)
    for stem, n, compress in (("train", 30, True), ("t10k", 12, False)):
        write_idx(tmp_path / f"{stem}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)), compress)
        write_idx(tmp_path / f"{stem}-labels-idx1-ubyte", rng.integers(0, 10, n), compress)
    return tmp_path


def test_fashion_mnist_reads_idx_files_gzipped_or_not(fashion_dir):
    data = fashion_mnist(fashion_dir)
    assert data.train_images.shape == (30, 1, 28, 28) and data.test_images.shape == (12, 1, 28, 28)
    assert data.train_images.dtype == torch.uint8 and data.train_labels.dtype == torch.int64
    raw = read_idx(fashion_dir / "t10k-images-idx3-ubyte")
    assert torch.equal(data.test_images[:, 0], torch.from_numpy(raw.copy()))
    assert (data.in_channels, data.resolution, data.num_classes) == (1, 28, 10)


def test_data_dir_comes_from_the_environment(fashion_dir, monkeypatch):
    monkeypatch.setenv("DESIGNSPACE_DATA", str(fashion_dir))
    assert len(load_dataset("fashion-mnist").train_labels) == 30


def test_missing_and_corrupt_files_are_clear_errors(tmp_path, fashion_dir, monkeypatch):
    monkeypatch.setattr("designspace.data.DEBIAN_FASHION_MNIST", tmp_path / "nowhere")
    with pytest.raises(ValueError, match="Fashion-MNIST not found in .*apt-get install dataset-fashion-mnist"):
        fashion_mnist(tmp_path / "empty")
    (fashion_dir / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x63abc")
    with pytest.raises(ValueError, match="header says"):
        fashion_mnist(fashion_dir)
    with pytest.raises(ValueError, match="unknown dataset 'mnist'"):
        load_dataset("mnist")
    with pytest.raises(ValueError, match="--data-dir"):
        load_dataset("cifar10")


def write_cifar(root, classes):
    rng = np.random.default_rng(classes)
    key = b"labels" if classes == 10 else b"fine_labels"
    folder = root / ("cifar-10-batches-py" if classes == 10 else "cifar-100-python")
    folder.mkdir()
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"] if classes == 10 else ["train", "test"]
    for name in names:
        batch = {b"data": rng.integers(0, 256, (8, 3072), dtype=np.uint8), key: rng.integers(0, classes, 8).tolist()}
        (folder / name).write_bytes(pickle.dumps(batch))
    return folder


@pytest.mark.parametrize("classes", [10, 100])
def test_cifar_python_pickles(tmp_path, classes):
    folder = write_cifar(tmp_path, classes)
    data = load_dataset(f"cifar{classes}", tmp_path)
    train_batches = 5 if classes == 10 else 1
    assert data.train_images.shape == (8 * train_batches, 3, 32, 32) and len(data.test_labels) == 8
    first = pickle.loads((folder / ("data_batch_1" if classes == 10 else "train")).read_bytes())
    assert torch.equal(data.train_images[0], torch.from_numpy(first[b"data"][0].reshape(3, 32, 32)))
    assert data.num_classes == classes and data.crop_padding == 4 and data.flip
    assert load_dataset(f"cifar{classes}", folder).train_labels.tolist() == data.train_labels.tolist()


def test_cifar_missing_batch_says_which(tmp_path):
    folder = write_cifar(tmp_path, 10)
    (folder / "data_batch_3").unlink()
    with pytest.raises(ValueError, match="missing .*data_batch_3"):
        load_dataset("cifar10", tmp_path)


def write_images(folder, classes, per_class, size):
    rng = np.random.default_rng(1)
    for c in classes:
        (folder / c).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (size, size + 3, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / c / f"{i}.png")


def test_image_folder_with_train_and_test_trees(tmp_path):
    write_images(tmp_path / "train", ["cat", "dog"], 3, 20)
    write_images(tmp_path / "val", ["cat", "dog"], 2, 20)
    data = load_dataset("imagefolder", tmp_path, resolution=16)
    assert data.train_images.shape == (6, 3, 16, 16) and data.test_images.shape == (4, 3, 16, 16)
    assert data.train_labels.tolist() == [0, 0, 0, 1, 1, 1] and data.num_classes == 2


def test_image_folder_single_tree_holds_out_a_seeded_split(tmp_path):
    write_images(tmp_path, ["a", "b", "c"], 5, 12)
    data = load_dataset("imagefolder", tmp_path, resolution=12)
    assert len(data.train_labels) == 12 and len(data.test_labels) == 3
    assert sorted(data.test_labels.tolist()) == [0, 1, 2]
    with pytest.raises(ValueError, match="one sub-folder per class"):
        load_dataset("imagefolder", tmp_path / "a")


def test_synthetic_is_seeded():
    a, b, c = synthetic(seed=1), synthetic(seed=1), synthetic(seed=2)
    assert torch.equal(a.train_images, b.train_images) and not torch.equal(a.train_images, c.train_images)


def test_subsets_are_seeded_and_checked():
    data = synthetic(seed=0)
    small = data.subset(100, 50, seed=3)
    assert len(small.train_labels) == 100 and len(small.test_labels) == 50
    assert torch.equal(small.train_images, data.subset(100, 50, seed=3).train_images)
    assert not torch.equal(small.train_images, data.subset(100, 50, seed=4).train_images)
    with pytest.raises(ValueError, match="train split has 512"):
        data.subset(1000)


def test_augmented_batches_are_shifted_crops_and_flips_of_the_padded_images():
    data = synthetic(seed=0, resolution=8)
    data = type(data)(**{**data.__dict__, "crop_padding": 2, "flip": True})
    batches = Batches(
        data, Recipe(batch_size=len(data.train_labels), seed=0), torch.device("cpu"), torch.contiguous_format
    )
    images = data.train_images[:64]
    out = batches.augment(images)
    assert out.shape == images.shape and out.dtype == torch.uint8
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2))
    for i in range(64):
        windows = [padded[i, :, y : y + 8, x : x + 8] for y in range(5) for x in range(5)]
        assert any(torch.equal(out[i], w) or torch.equal(out[i], w.flip(2)) for w in windows)
    assert not torch.equal(out, images)  # something moved
