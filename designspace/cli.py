"""The `designspace` command line.

Bad input ends in one line on stderr (`designspace: error: ...`) and exit code 2, never a
traceback. Heavy imports (torch, pandas) happen inside the commands that need them, so that
`designspace sample` starts quickly.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import time
from pathlib import Path

from .units import read_amount, si


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


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


# ----------------------------------------------------------------------------- commands
def cmd_sample(args) -> None:
    from .samples_io import write_samples
    from .space import load_space

    space = load_space(args.space).with_context(
        resolution=args.resolution, in_channels=args.in_channels, num_classes=args.num_classes,
        stem_type=args.stem_type, stem_width=args.stem_width, activation=args.activation,
        head_width=args.head_width,
    )
    start = time.perf_counter()
    records = space.sample(args.n, seed=args.seed, flops=args.flops, params=args.params, acts=args.acts,
                           max_draws=args.max_draws)
    write_samples(records, args.output)
    seconds = time.perf_counter() - start
    print(f"sampled {len(records)} unique {space.name} models (seed {args.seed}) from {records.draws:,} draws "
          f"in {seconds:.2f} s -> {args.output}", file=sys.stderr)
    for metric in ("flops", "params", "acts"):
        values = sorted(r["complexity"][metric] for r in records)
        print(f"  {metric:6s} min {si(values[0]):>7s}  median {si(values[len(values) // 2]):>7s}  "
              f"max {si(values[-1]):>7s}", file=sys.stderr)


def cmd_complexity(args) -> None:
    from .complexity import complexity

    spec = _read_spec(Path(args.file))
    cx = complexity(spec)
    if args.json:
        print(json.dumps(cx))
    else:
        for metric, value in cx.items():
            print(f"{metric:6s} {value:>16,d}  ({si(value)})")


def _read_spec(path: Path):
    from .spec import ModelSpec

    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    if path.suffix.lower() in (".yaml", ".yml"):
        from .pycls_config import from_pycls

        return from_pycls(path)
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValueError(f"{path}: expected a pycls YAML (.yaml) or a ModelSpec JSON file") from None
    if isinstance(data, dict) and "spec" in data:  # a line of a samples file
        data = data["spec"]
    return ModelSpec.from_dict(data)


def cmd_spaces(args) -> None:
    from .space import load_space, shipped_spaces

    for name in sorted(shipped_spaces()):
        space = load_space(name)
        summary = " ".join(space.description.split())
        print(f"{name:14s} {summary[:100]}{'...' if len(summary) > 100 else ''}")


def cmd_fit(args) -> None:
    if len(args.widths) == 1 and Path(args.widths[0]).exists():
        from .analysis import fit_report

        print(fit_report(args.widths[0], top=args.top))
        return
    from .regnet import fit

    try:
        widths = [int(w) for w in re.split(r"[,\s]+", " ".join(args.widths).strip())]
    except ValueError:
        raise ValueError("fit: give per-block widths as integers, e.g. 24,56,152,152,152") from None
    result = fit(widths)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"w0 {result['w0']}  wa {result['wa']:g}  wm {result['wm']:g}  depth {result['depth']}  "
              f"e_fit {result['e_fit']:.4f}")
        print(f"fitted widths {result['block_widths']}")


def cmd_train(args) -> None:
    from .train import Engine, train

    recipe = recipe_from(args)
    if args.threads != "auto" and not args.threads.isdigit():
        raise ValueError(f"--threads: expected auto or a number of threads, got {args.threads!r}")
    engine = Engine(device=args.device, threads=args.threads if args.threads == "auto" else int(args.threads),
                    compile=args.compile)
    engine.resolve_device()
    dataset = dataset_from(args)
    spec = _training_spec(args, dataset)
    if not args.json:
        print(f"training on {dataset.describe()}", file=sys.stderr)
    record = train(spec, dataset, recipe, engine, progress=not args.json)
    record["spec"] = spec.to_dict()
    if args.json:
        print(json.dumps(record))
    else:
        best = "n/a" if record["best_error"] is None else f"{record['best_error']:.2f}%"
        print(f"{record['status']}: best test error {best} after {record['epochs']} epochs, "
              f"{record['wall_time']:.1f} s, {record['images_per_second']:,.0f} img/s on {record['device']}"
              + (f" ({record['reason']})" if record["reason"] else ""))
    if record["status"] == "failed":
        raise SystemExit(1)


def _training_spec(args, dataset):
    """The spec from --spec, or one model drawn from --space for this dataset's images."""
    if args.spec:
        if args.space:
            raise ValueError("give either --spec or --space, not both")
        return _read_spec(Path(args.spec))
    if not args.space:
        raise ValueError("give --spec FILE or --space NAME (with --seed) to choose the model")
    from .spec import ModelSpec

    space = space_for_dataset(args, dataset)
    record = space.sample(1, seed=args.seed, flops=args.flops)[0]
    print(f"model {record['id']} from {space.name} (seed {args.seed}): {record['sample']}, "
          f"{si(record['complexity']['flops'])} flops, {si(record['complexity']['params'])} params",
          file=sys.stderr)
    return ModelSpec.from_dict(record["spec"])


CONTEXT_FLAGS = ("stem_type", "stem_width", "activation", "head_width")  # network overrides a sweep records


def context_overrides(args) -> dict:
    """The network overrides given on the command line (--stem-width, ...)."""
    return {k: getattr(args, k) for k in CONTEXT_FLAGS if getattr(args, k) is not None}


def space_for_dataset(args, dataset):
    """The space for the dataset's images (Space.for_images) with the command line's overrides."""
    from .space import load_space

    return load_space(args.space).for_images(dataset.resolution, dataset.in_channels, dataset.num_classes,
                                             **context_overrides(args))
RECIPE_FLAGS = ("epochs", "batch_size", "lr", "momentum", "weight_decay", "warmup_epochs", "label_smoothing",
                "drop_path", "nesterov", "augment", "zero_init_final_bn")  # each --NAME, or its switch below
RECIPE_SWITCHES = {"nesterov": "--no-nesterov", "augment": "--no-augment", "zero_init_final_bn": "--no-zero-init"}


def recipe_from(args):
    from .recipe import Recipe

    return Recipe(seed=args.training_seed,
                  **{k: getattr(args, k) for k in RECIPE_FLAGS if getattr(args, k) is not None})


def dataset_options(args) -> dict:
    """The dataset as a sweep records it (absolute paths, so that every worker finds the files)."""
    data_dir = args.data_dir or os.environ.get("DESIGNSPACE_DATA") or None
    return {"name": args.dataset, "data_dir": str(Path(data_dir).resolve()) if data_dir else None,
            "resolution": args.resolution, "train_subset": args.train_subset, "test_subset": args.test_subset,
            "seed": args.data_seed}


def dataset_from(args):
    from .data import load_dataset

    options = dataset_options(args)
    dataset = load_dataset(options["name"], options["data_dir"], resolution=options["resolution"], seed=options["seed"])
    if args.train_subset or args.test_subset:
        dataset = dataset.subset(args.train_subset, args.test_subset, seed=args.data_seed)
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
        return models, {"space": args.space, "seed": args.seed, "flops": args.flops, "params": args.params,
                        "acts": args.acts, "context": context_overrides(args)}
    raise ValueError("give --space NAME --n N (models sampled here) or --samples FILE.jsonl")


def cmd_sweep(args) -> None:
    from dataclasses import asdict

    from .results import DEFINITION_FILE, ResultsTable, summary
    from .sweep import definition_for, run_sweep

    recipe = recipe_from(args)
    dataset = dataset_from(args)
    models, source = sweep_models(args, dataset)
    definition = definition_for(models, dataset_options(args), asdict(recipe), source)
    print(f"sweep of {len(models)} models on {dataset.describe()} -> {args.output}", file=sys.stderr)
    try:
        table = run_sweep(args.output, models, definition, address=args.address, cpus_per_trial=args.cpus_per_trial,
                          gpus_per_trial=args.gpus_per_trial, max_concurrent=args.max_concurrent,
                          retries=args.retries, resume=args.resume)
    except KeyboardInterrupt:  # before the trials started (Ray still starting): sweep.json is there to resume
        if not (Path(args.output) / DEFINITION_FILE).is_file():
            raise
        table = ResultsTable(args.output)
    print(summary(args.output))
    if len(table.rows) < len(models):
        print(f"interrupted: {len(table.rows)} of {len(models)} models done; finish with the same command and "
              "--resume", file=sys.stderr)
        raise SystemExit(130)


def cmd_results(args) -> None:
    from .results import export_csv, summary

    print(summary(args.directory))
    if args.csv:
        print(f"wrote {export_csv(args.directory, args.csv)}", file=sys.stderr)


# ------------------------------------------------------------------------------- parser
STEMS = ("res_stem_cifar", "res_stem_in", "simple_stem_in")


def add_windows(parser) -> None:
    for metric, example in (("flops", "360e6:400e6"), ("params", ":6M"), ("acts", ":5M")):
        parser.add_argument(f"--{metric}", type=window, metavar="LO:HI",
                            help=f"keep models with LO <= {metric} <= HI, e.g. {example} (k/M/G suffixes work)")


def add_context(group, with_data_shape: bool) -> None:
    """Network-context overrides; train and sweep take the image shape from the dataset instead."""
    if with_data_shape:
        group.add_argument("--resolution", type=positive_int, help="input size in pixels (e.g. 28 for Fashion-MNIST)")
        group.add_argument("--in-channels", type=positive_int, help="input channels (1 for grayscale)")
        group.add_argument("--num-classes", type=positive_int, help="number of classes")
        group.add_argument("--stem-type", choices=STEMS, help="res_stem_cifar suits small images (3x3, stride 1)")
    else:
        group.add_argument("--stem-type", choices=STEMS,
                           help="stem of the sampled models (default: res_stem_cifar for images up to 64 px)")
    group.add_argument("--stem-width", type=positive_int, help="stem output channels")
    group.add_argument("--activation", choices=("relu", "silu"), help="relu or silu (Swish)")
    group.add_argument("--head-width", type=int, help="1x1 head conv channels (0 = none)")


def add_data(parser) -> None:
    data = parser.add_argument_group("the data")
    data.add_argument("--dataset", default="fashion-mnist",
                      help="fashion-mnist (default), cifar10, cifar100, imagefolder, synthetic")
    data.add_argument("--data-dir", help="where the dataset's files are (default: $DESIGNSPACE_DATA, then "
                                         "/usr/share/datasets/fashion-mnist)")
    data.add_argument("--resolution", type=positive_int, help="image size for imagefolder / synthetic")
    data.add_argument("--train-subset", type=positive_int, metavar="N", help="train on a seeded subset of N images")
    data.add_argument("--test-subset", type=positive_int, metavar="N", help="test on a seeded subset of N images")
    data.add_argument("--data-seed", type=int, default=0, help="seed of the subsets and synthetic data")


def add_recipe(parser) -> None:
    recipe = parser.add_argument_group("the recipe (defaults suit short runs)")
    recipe.add_argument("--epochs", type=positive_int, help="default 10")
    recipe.add_argument("--batch-size", type=positive_int, help="default 128")
    recipe.add_argument("--lr", type=float, help="peak learning rate (default 0.1)")
    recipe.add_argument("--momentum", type=float, help="default 0.9 (Nesterov)")
    recipe.add_argument(RECIPE_SWITCHES["nesterov"], dest="nesterov", action="store_const", const=False,
                        help="plain momentum instead of Nesterov")
    recipe.add_argument("--weight-decay", type=float, help="default 5e-4 (none on BN and biases)")
    recipe.add_argument("--warmup-epochs", type=float, help="linear warm-up length (default 1)")
    recipe.add_argument("--label-smoothing", type=float, help="default 0.1")
    recipe.add_argument("--drop-path", type=float, metavar="RATE",
                        help="stochastic depth: the last residual branch is dropped with this probability, earlier "
                             "ones linearly less (default 0 = off)")
    recipe.add_argument(RECIPE_SWITCHES["augment"], dest="augment", action="store_const", const=False,
                        help="no random crop / flip")
    recipe.add_argument(RECIPE_SWITCHES["zero_init_final_bn"], dest="zero_init_final_bn", action="store_const",
                        const=False, help="keep the default init of each residual branch's last BN (by default "
                                          "its scale starts at 0, so the block starts as its shortcut)")
    recipe.add_argument("--training-seed", type=int, default=0,
                        help="seed of initialization, order and augmentation (default 0)")


class Parser(argparse.ArgumentParser):
    """Argument errors in one line, as every other error is (the usage is one --help away)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="designspace",
        description="Sample, train and compare populations of networks from design spaces (RegNet / NDS).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sample = commands.add_parser("sample", help="draw unique architectures from a design space",
                                 description="Draw N unique architectures from a space, reproducibly for a seed, "
                                             "within optional complexity windows.")
    sample.add_argument("--space", required=True, help="a shipped space name (see `designspace spaces`) or a .toml file")
    sample.add_argument("--n", type=positive_int, required=True, help="number of unique models")
    sample.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    add_windows(sample)
    add_context(sample.add_argument_group("network context (overrides the space file)"), with_data_shape=True)
    sample.add_argument("--max-draws", type=positive_int, default=2_000_000,
                        help="give up after this many draws (default 2,000,000)")
    sample.add_argument("-o", "--output", required=True, help="output file: .jsonl, .csv or .parquet")
    sample.set_defaults(run=cmd_sample)

    train = commands.add_parser("train", help="train one model briefly and report its errors",
                                description="Train one ModelSpec on a dataset (a short training job) and print "
                                            "its result record.")
    model = train.add_argument_group("the model")
    model.add_argument("--spec", help="a ModelSpec JSON, a samples-file line, or a pycls YAML")
    model.add_argument("--space", help="draw the model from this space instead (see --seed, --flops)")
    model.add_argument("--seed", type=int, default=0, help="which model of --space (default 0)")
    model.add_argument("--flops", type=window, metavar="LO:HI", help="flops window for the drawn model")
    add_context(model, with_data_shape=False)
    add_data(train)
    add_recipe(train)
    engine = train.add_argument_group("how to run")
    engine.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda, cuda:N")
    engine.add_argument("--threads", default="auto", help="CPU threads (default auto: the fastest, measured)")
    engine.add_argument("--compile", action="store_true", help="torch.compile the model")
    train.add_argument("--json", action="store_true", help="print the record as JSON (no progress lines)")
    train.set_defaults(run=cmd_train)

    sweep = commands.add_parser("sweep", help="train many sampled models as Ray Tune trials",
                                description="Sample N models (or read a samples file) and train each briefly, "
                                            "locally or on a Ray cluster; results land in DIR/results.parquet.")
    models = sweep.add_argument_group("the models")
    models.add_argument("--space", help="sample from this space (with --n, --seed, windows)")
    models.add_argument("--n", type=positive_int, help="number of models to sample")
    models.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    models.add_argument("--samples", help="train the models of this samples file instead")
    add_windows(models)
    add_context(models, with_data_shape=False)
    add_data(sweep)
    add_recipe(sweep)
    ray_group = sweep.add_argument_group("where to run")
    ray_group.add_argument("--address", help="HOST:PORT of a Ray cluster (default: $RAY_ADDRESS, else a local Ray)")
    ray_group.add_argument("--cpus-per-trial", type=float, help="CPUs (and torch threads) per model (default: the "
                                                                 "fastest layout of this machine, or of the "
                                                                 "cluster's largest node, measured once)")
    ray_group.add_argument("--gpus-per-trial", type=float, default=0, help="GPUs per model; fractions share a GPU")
    ray_group.add_argument("--max-concurrent", type=positive_int, help="at most this many models at once")
    ray_group.add_argument("--retries", type=int, default=2, help="retries of a failed trial (default 2)")
    sweep.add_argument("--resume", action="store_true", help="finish an interrupted sweep in DIR")
    sweep.add_argument("-o", "--output", required=True, help="the sweep directory")
    sweep.set_defaults(run=cmd_sweep)

    results = commands.add_parser("results", help="summarize a sweep's results table",
                                  description="Print a summary of DIR/results.parquet; --csv exports it.")
    results.add_argument("directory", help="a sweep directory")
    results.add_argument("--csv", help="also write the table to this CSV file")
    results.set_defaults(run=cmd_results)

    cx = commands.add_parser("complexity", help="flops, params and acts of a network",
                             description="Print flops (multiply-adds), params and acts, counted as pycls does.")
    cx.add_argument("file", help="a pycls YAML config or a ModelSpec JSON file")
    cx.add_argument("--json", action="store_true", help="print JSON")
    cx.set_defaults(run=cmd_complexity)

    spaces = commands.add_parser("spaces", help="list the shipped design spaces")
    spaces.set_defaults(run=cmd_spaces)

    fit = commands.add_parser("fit", help="fit RegNet's quantized linear widths to per-block widths or a sweep",
                              description="Find (w0, wa, wm) whose RegNet widths best match the given per-block "
                                          "widths, and report e_fit (mean |log ratio|); given a sweep directory, "
                                          "fit its best models.")
    fit.add_argument("widths", nargs="+", help="per-block widths, e.g. 24 56 152 152 152 152 368, or a sweep DIR")
    fit.add_argument("--top", type=positive_int, default=10, help="with a sweep DIR: how many best models (default 10)")
    fit.add_argument("--json", action="store_true", help="print JSON (per-block widths only)")
    fit.set_defaults(run=cmd_fit)

    from .analysis.commands import register

    register(commands)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.run(args)
        sys.stdout.flush()  # a closed pipe must fail here, not in the interpreter's flush at exit
    except BrokenPipeError:  # `designspace results DIR | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 128 + signal.SIGPIPE
    except (ValueError, OSError) as e:
        print(f"designspace: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("designspace: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
