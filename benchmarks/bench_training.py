"""Training throughput: designspace.train against a plain PyTorch loop written the usual way
(DataLoader over a TensorDataset, fp32, contiguous tensors, torch's default threads), on the same
spec, the same data and the same recipe, in one process. Prints images/s and the ratio.

    python benchmarks/bench_training.py [--dataset fashion-mnist] [--train 4096] [--epochs 2]
"""

import argparse
import math
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

import designspace as ds
from designspace.data import load_dataset
from designspace.train import Engine, Recipe, train

MODELS = [("regnetx", (20e6, 40e6)), ("anynetx_e", (20e6, 40e6)), ("mobilenet", (20e6, 60e6))]


def plain_loop(spec, dataset, recipe, device):
    """The usual way: normalized float tensors, DataLoader, fp32, default threads, eval each epoch."""
    torch.manual_seed(recipe.seed)
    model = ds.build_model(spec).to(device)
    mean = torch.tensor(dataset.mean).view(1, -1, 1, 1)
    std = torch.tensor(dataset.std).view(1, -1, 1, 1)
    train_x = (dataset.train_images.float() / 255 - mean) / std
    test_x = (dataset.test_images.float() / 255 - mean) / std
    loader = DataLoader(TensorDataset(train_x, dataset.train_labels), batch_size=recipe.batch_size, shuffle=True)
    test_loader = DataLoader(TensorDataset(test_x, dataset.test_labels), batch_size=recipe.batch_size)
    optimizer = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum, nesterov=True,
                                weight_decay=recipe.weight_decay)
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
            wrong = sum(int((model(x.to(device)).argmax(1) != y.to(device)).sum()) for x, y in test_loader)
    return recipe.epochs * len(dataset.train_labels) / seconds, 100.0 * wrong / len(dataset.test_labels)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--train", type=int, default=4096, help="train images (a seeded subset)")
    parser.add_argument("--test", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    dataset = load_dataset(args.dataset).subset(args.train, args.test, seed=0)
    recipe = Recipe(epochs=args.epochs)
    default_threads = torch.get_num_threads()
    print(f"{dataset.describe()}, {args.epochs} epochs, batch {recipe.batch_size}, device {args.device}")
    print(f"{'model':28s} {'plain img/s':>12s} {'designspace':>12s} {'ratio':>6s}  threads")
    for name, flops in MODELS:
        space = ds.load_space(name).with_context(resolution=dataset.resolution, in_channels=dataset.in_channels,
                                                 num_classes=dataset.num_classes, stem_type="res_stem_cifar")
        record = space.sample(1, seed=0, flops=flops)[0]
        spec = ds.ModelSpec.from_dict(record["spec"])
        torch.set_num_threads(default_threads)
        plain, _ = plain_loop(spec, dataset, recipe, torch.device(args.device))
        ours = train(spec, dataset, recipe, Engine(device=args.device), progress=False)
        label = f"{name} {record['complexity']['flops'] / 1e6:.0f}MF"
        print(f"{label:28s} {plain:12,.0f} {ours['images_per_second']:12,.0f} "
              f"{ours['images_per_second'] / plain:6.2f}  {ours['threads']} (plain: {default_threads})")


if __name__ == "__main__":
    main()
