"""Training throughput: designspace.train against a plain PyTorch loop written the usual way
(DataLoader over a TensorDataset, fp32, contiguous tensors, torch's default threads), on the same
spec, data and recipe, in this process: on the CPU, and on the GPU when there is one.

    python benchmarks/bench_training.py [--quick]
"""

import math
import time

import torch
import torch.nn.functional as F
from common import Figure, run_alone, torch_threads_kept
from torch.utils.data import DataLoader, TensorDataset

import designspace as ds
from designspace.data import load_dataset, synthetic
from designspace.train import Engine, Recipe, train

MODELS = [("regnetx", (20e6, 40e6)), ("anynetx_e", (20e6, 40e6)), ("mobilenet", (20e6, 60e6))]


def plain_loop(spec, dataset, recipe, device):
    """The usual way: normalized float tensors, DataLoader, fp32, default threads, eval each epoch.
    Returns training images/s."""
    torch.manual_seed(recipe.seed)
    model = ds.build_model(spec).to(device)
    mean = torch.tensor(dataset.mean).view(1, -1, 1, 1)
    std = torch.tensor(dataset.std).view(1, -1, 1, 1)
    train_x = (dataset.train_images.float() / 255 - mean) / std
    test_x = (dataset.test_images.float() / 255 - mean) / std
    loader = DataLoader(TensorDataset(train_x, dataset.train_labels), batch_size=recipe.batch_size, shuffle=True)
    test_loader = DataLoader(TensorDataset(test_x, dataset.test_labels), batch_size=recipe.batch_size)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=recipe.lr, momentum=recipe.momentum, nesterov=True, weight_decay=recipe.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, recipe.epochs * len(loader))
    seconds = 0.0
    for _ in range(recipe.epochs):
        model.train()
        start = time.perf_counter()
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            loss = F.cross_entropy(model(x), y, label_smoothing=recipe.label_smoothing)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            if not math.isfinite(loss.item()):
                break
        seconds += time.perf_counter() - start
        model.eval()
        with torch.no_grad():
            for x, _ in test_loader:
                model(x.to(device))
    return recipe.epochs * len(dataset.train_labels) / seconds


def training_data(train, test):
    """A seeded Fashion-MNIST subset, or synthetic images of its shape where it is not installed."""
    try:
        return load_dataset("fashion-mnist").subset(train, test, seed=0)
    except (ValueError, OSError):
        return synthetic(seed=0, resolution=28, num_classes=10, channels=1, train=train, test=test)


def sampled_spec(name, flops, dataset):
    """(spec, MF) of the first model of space `name` in the window, for the dataset's images."""
    space = ds.load_space(name).for_images(dataset.resolution, dataset.in_channels, dataset.num_classes)
    record = space.sample(1, seed=0, flops=flops)[0]
    return ds.ModelSpec.from_dict(record["spec"]), record["complexity"]["flops"] / 1e6


def figures(quick=False):
    dataset = training_data(*((2048, 1000) if quick else (4096, 2000)))
    recipe = Recipe(epochs=1 if quick else 2)
    images = recipe.epochs * len(dataset.train_labels)
    rows = []
    with torch_threads_kept() as default_threads:
        for device in ["cpu"] + (["cuda"] if torch.cuda.is_available() else []):
            for name, flops in MODELS[:1] if quick else MODELS:
                spec, mflops = sampled_spec(name, flops, dataset)
                torch.set_num_threads(default_threads)
                plain = plain_loop(spec, dataset, recipe, torch.device(device))
                ours = train(spec, dataset, recipe, Engine(device=device), progress=False)
                threads = f"; threads {ours['threads']} vs {default_threads}" if device == "cpu" else ""
                rows.append(
                    Figure(
                        f"train {name} {mflops:.0f} MF on {device}, {images:,} images of {dataset.name}",
                        images / ours["images_per_second"],
                        images / plain,
                        "plain PyTorch loop (DataLoader, fp32)",
                        f"{ours['images_per_second']:,.0f} vs {plain:,.0f} img/s{threads}",
                    )
                )
    return rows


if __name__ == "__main__":
    run_alone(figures)
