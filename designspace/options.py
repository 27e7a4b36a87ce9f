"""The command-line options that several commands share, and what they mean.

The CLI (cli.py), the analysis commands and the study's estimates all read `designspace sweep`
options; they live here, apart from any command, so that no module has to import the CLI.
Every number is checked as it is parsed, with its range in the message, so that bad input ends
before any sampling or training starts.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from pathlib import Path

from .spec import ACTIVATIONS
from .units import read_amount


class Parser(argparse.ArgumentParser):
    """Argument errors in one line, as every other error is (the usage is one --help away)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


# ------------------------------------------------------------------------ argument types
def window(text: str) -> tuple[float, float]:
    """'360e6:400e6', '360M:400M', ':2M' or '1G:' as (lo, hi)."""
    match = re.fullmatch(r"\s*([^:]*)\s*:\s*([^:]*)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a window LO:HI such as 360e6:400e6 or 360M:400M")
    try:
        lo, hi = (read_amount(part) if part else default for part, default in zip(match.groups(), (0.0, float("inf"))))
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if lo > hi:
        raise argparse.ArgumentTypeError(f"window {text!r} has LO above HI")
    return lo, hi


def number(lo: float, hi: float = math.inf, *, lo_open: bool = False, hi_open: bool = False, integer: bool = False):
    """An argparse type for a finite number in [lo, hi] (an end is left out with lo_open/hi_open)."""
    left, right = "(" if lo_open else "[", ")" if hi_open or hi == math.inf else "]"
    kind = "an integer" if integer else "a number"
    if hi == math.inf:
        rule = f"{kind} {'>' if lo_open else '>='} {_bound(lo)}"
    else:
        rule = f"{kind} in {left}{_bound(lo)}, {_bound(hi)}{right}"

    def parse(text: str):
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}; expected {rule}") from None
        inside = (
            math.isfinite(value)
            and (lo < value if lo_open else lo <= value)
            and (value < hi if hi_open else value <= hi)
        )
        if not inside:
            raise argparse.ArgumentTypeError(f"{text!r} is out of range; expected {rule}")
        return value

    parse.__name__ = "integer" if integer else "number"  # argparse names the type in some messages
    return parse


def _bound(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


positive_int = number(1, integer=True)
seed = number(0, 2**32 - 1, integer=True)  # numpy's and torch's seeds alike


def address(text: str) -> str:
    """HOST:PORT of a Ray head (ray://HOST:PORT for Ray Client)."""
    host, _, port = text.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: expected HOST:PORT, e.g. 127.0.0.1:6379")
    return text


def threads(text: str):
    """'auto' or a number of CPU threads."""
    return text if text == "auto" else number(1, integer=True)(text)


# ------------------------------------------------------------------------- option groups
STEMS = ("res_stem_cifar", "res_stem_in", "simple_stem_in")
CONTEXT_FLAGS = ("stem_type", "stem_width", "activation", "head_width")  # network overrides a sweep records
RECIPE_FLAGS = (
    "epochs",
    "batch_size",
    "lr",
    "momentum",
    "weight_decay",
    "warmup_epochs",
    "label_smoothing",
    "drop_path",
    "nesterov",
    "augment",
    "zero_init_final_bn",
)  # each --NAME, or its switch below
RECIPE_SWITCHES = {"nesterov": "--no-nesterov", "augment": "--no-augment", "zero_init_final_bn": "--no-zero-init"}
# The sweep options that define what a sweep is (models, data, recipe), as sweep.json records them.
SWEEP_DEFINING = (
    "space",
    "n",
    "seed",
    "samples",
    "flops",
    "params",
    "acts",
    *CONTEXT_FLAGS,
    "dataset",
    "data_dir",
    "resolution",
    "train_subset",
    "test_subset",
    "data_seed",
    *RECIPE_FLAGS,
    "training_seed",
)


def add_windows(parser) -> None:
    for metric, example in (("flops", "360e6:400e6"), ("params", ":6M"), ("acts", ":5M")):
        parser.add_argument(
            f"--{metric}",
            type=window,
            metavar="LO:HI",
            help=f"keep models with LO <= {metric} <= HI, e.g. {example} (k/M/G suffixes work)",
        )


def add_context(group, with_data_shape: bool) -> None:
    """Network-context overrides; train and sweep take the image shape from the dataset instead."""
    if with_data_shape:
        group.add_argument("--resolution", type=positive_int, help="input size in pixels (e.g. 28 for Fashion-MNIST)")
        group.add_argument("--in-channels", type=positive_int, help="input channels (1 for grayscale)")
        group.add_argument("--num-classes", type=positive_int, help="number of classes")
        group.add_argument("--stem-type", choices=STEMS, help="res_stem_cifar suits small images (3x3, stride 1)")
    else:
        group.add_argument(
            "--stem-type",
            choices=STEMS,
            help="stem of the sampled models (default: res_stem_cifar for images up to 64 px)",
        )
    group.add_argument("--stem-width", type=positive_int, help="stem output channels")
    group.add_argument("--activation", choices=ACTIVATIONS, help="relu, silu (Swish) or relu6")
    group.add_argument("--head-width", type=number(0, integer=True), help="1x1 head conv channels (0 = none)")


def add_data(parser) -> None:
    data = parser.add_argument_group("the data")
    data.add_argument(
        "--dataset", default="fashion-mnist", help="fashion-mnist (default), cifar10, cifar100, imagefolder, synthetic"
    )
    data.add_argument(
        "--data-dir",
        help="where the dataset's files are (default: $DESIGNSPACE_DATA, then /usr/share/datasets/fashion-mnist)",
    )
    data.add_argument("--resolution", type=positive_int, help="image size for imagefolder / synthetic")
    data.add_argument("--train-subset", type=positive_int, metavar="N", help="train on a seeded subset of N images")
    data.add_argument("--test-subset", type=positive_int, metavar="N", help="test on a seeded subset of N images")
    data.add_argument("--data-seed", type=seed, default=0, help="seed of the subsets and synthetic data")


def add_recipe(parser) -> None:
    recipe = parser.add_argument_group("the recipe (defaults suit short runs)")
    recipe.add_argument("--epochs", type=positive_int, help="default 10")
    recipe.add_argument("--batch-size", type=positive_int, help="default 128")
    recipe.add_argument("--lr", type=number(0, lo_open=True), help="peak learning rate (default 0.1)")
    recipe.add_argument("--momentum", type=number(0, 1, hi_open=True), help="default 0.9 (Nesterov)")
    recipe.add_argument(
        RECIPE_SWITCHES["nesterov"],
        dest="nesterov",
        action="store_const",
        const=False,
        help="plain momentum instead of Nesterov",
    )
    recipe.add_argument("--weight-decay", type=number(0), help="default 5e-4 (none on BN and biases)")
    recipe.add_argument("--warmup-epochs", type=number(0), help="linear warm-up length (default 1)")
    recipe.add_argument("--label-smoothing", type=number(0, 1, hi_open=True), help="default 0.1")
    recipe.add_argument(
        "--drop-path",
        type=number(0, 1, hi_open=True),
        metavar="RATE",
        help="stochastic depth: the last residual branch is dropped with this probability, earlier "
        "ones linearly less (default 0 = off)",
    )
    recipe.add_argument(
        RECIPE_SWITCHES["augment"], dest="augment", action="store_const", const=False, help="no random crop / flip"
    )
    recipe.add_argument(
        RECIPE_SWITCHES["zero_init_final_bn"],
        dest="zero_init_final_bn",
        action="store_const",
        const=False,
        help="keep the default init of each residual branch's last BN (by default "
        "its scale starts at 0, so the block starts as its shortcut)",
    )
    recipe.add_argument(
        "--training-seed", type=seed, default=0, help="seed of initialization, order and augmentation (default 0)"
    )


def add_sweep_arguments(parser) -> None:
    """Every option of `designspace sweep`; the study's estimates parse sweep commands with them."""
    models = parser.add_argument_group("the models")
    models.add_argument("--space", help="sample from this space (with --n, --seed, windows)")
    models.add_argument("--n", type=positive_int, help="number of models to sample")
    models.add_argument("--seed", type=seed, default=0, help="sampling seed (default 0)")
    models.add_argument("--samples", help="train the models of this samples file instead")
    add_windows(models)
    add_context(models, with_data_shape=False)
    add_data(parser)
    add_recipe(parser)
    where = parser.add_argument_group("where to run")
    where.add_argument(
        "--address", type=address, help="HOST:PORT of a Ray cluster (default: $RAY_ADDRESS, else a local Ray)"
    )
    where.add_argument(
        "--cpus-per-trial",
        type=number(0, lo_open=True),
        help="CPUs (and torch threads) per model (default: the fastest layout of this machine, or of "
        "the cluster's largest node, measured once)",
    )
    where.add_argument("--gpus-per-trial", type=number(0), default=0, help="GPUs per model; fractions share a GPU")
    where.add_argument("--max-concurrent", type=positive_int, help="at most this many models at once")
    where.add_argument(
        "--data-on-nodes",
        action="store_true",
        help="each node reads the data from --data-dir's path on its own disk (default: the data "
        "travels from here through Ray's object store)",
    )
    where.add_argument(
        "--retries", type=number(0, integer=True), default=2, help="retries of a failed trial (default 2)"
    )
    parser.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=False,
        metavar="DIR",
        help="finish an interrupted sweep: with -o DIR and its original options, or as "
        "--resume DIR alone (the options recorded in DIR/sweep.json)",
    )
    parser.add_argument("-o", "--output", help="the sweep directory")


def sweep_parser() -> Parser:
    """A parser of `designspace sweep`'s options alone (argv after `designspace sweep`)."""
    parser = Parser(prog="designspace sweep")
    add_sweep_arguments(parser)
    return parser


# ------------------------------------------------------------------------ what they mean
def context_overrides(args) -> dict:
    """The network overrides given on the command line (--stem-width, ...)."""
    return {k: getattr(args, k) for k in CONTEXT_FLAGS if getattr(args, k) is not None}


def space_for_dataset(args, dataset):
    """The space for the dataset's images (Space.for_images) with the command line's overrides."""
    from .space_file import load_space

    return load_space(args.space).for_images(
        dataset.resolution, dataset.in_channels, dataset.num_classes, **context_overrides(args)
    )


def recipe_from(args):
    from .recipe import Recipe

    return Recipe(
        seed=args.training_seed, **{k: getattr(args, k) for k in RECIPE_FLAGS if getattr(args, k) is not None}
    )


def dataset_options(args) -> dict:
    """The dataset as a sweep records it (absolute paths, so that every worker finds the files)."""
    data_dir = args.data_dir or os.environ.get("DESIGNSPACE_DATA") or None
    return {
        "name": args.dataset,
        "data_dir": str(Path(data_dir).resolve()) if data_dir else None,
        "resolution": args.resolution,
        "train_subset": args.train_subset,
        "test_subset": args.test_subset,
        "seed": args.data_seed,
    }


def dataset_from(args):
    origin = "--data-dir" if args.data_dir else "DESIGNSPACE_DATA" if os.environ.get("DESIGNSPACE_DATA") else None
    return load_recorded_dataset(dataset_options(args), origin)


def load_recorded_dataset(options: dict, origin: str | None = None):
    """The dataset that options (as sweep.json records them) describe, with its seeded subsets;
    origin says where its data_dir came from, for the error when the folder is missing."""
    from .data import load_dataset

    dataset = load_dataset(
        options["name"],
        options.get("data_dir"),
        resolution=options.get("resolution"),
        seed=options.get("seed", 0),
        origin=origin,
    )
    if options.get("train_subset") or options.get("test_subset"):
        dataset = dataset.subset(options.get("train_subset"), options.get("test_subset"), seed=options.get("seed", 0))
    return dataset


def sweep_models(args, dataset) -> tuple[list[dict], dict]:
    """The models a sweep trains (its --samples file, or --n drawn from --space for the dataset's
    images) and their source as sweep.json records it; the study's estimates sample the same way."""
    from .samples_io import read_samples
    from .spec import ModelSpec
    from .train import check_compatible

    if args.samples:
        if args.space:
            raise ValueError("give either --samples FILE or --space NAME, not both")
        models = read_samples(args.samples)
        for m in models:
            check_compatible(ModelSpec.from_dict(m["spec"]), dataset)
        return models, {"samples": str(Path(args.samples).resolve())}
    if args.space:
        if args.n is None:
            raise ValueError("--n: say how many models to sample from the space")
        space = space_for_dataset(args, dataset)
        models = space.sample(args.n, seed=args.seed, flops=args.flops, params=args.params, acts=args.acts)
        return models, {
            "space": args.space,
            "seed": args.seed,
            "flops": args.flops,
            "params": args.params,
            "acts": args.acts,
            "context": context_overrides(args),
        }
    raise ValueError("give --space NAME --n N (models sampled here) or --samples FILE.jsonl")
