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

from .options import (
    CONTEXT_FLAGS,
    Parser,
    add_context,
    add_data,
    add_recipe,
    add_sweep_arguments,
    add_windows,
    context_overrides,
    dataset_from,
    number,
    positive_int,
    recipe_from,
    seed,
    space_for_dataset,
    threads,
    window,
)
from .units import si


# ----------------------------------------------------------------------------- commands
def cmd_sample(args) -> None:
    from .samples_io import check_samples_output, write_samples
    from .space_file import load_space

    check_samples_output(args.output)
    space = load_space(args.space).with_context(
        resolution=args.resolution,
        in_channels=args.in_channels,
        num_classes=args.num_classes,
        stem_type=args.stem_type,
        stem_width=args.stem_width,
        activation=args.activation,
        head_width=args.head_width,
    )
    start = time.perf_counter()
    records = space.sample(
        args.n, seed=args.seed, flops=args.flops, params=args.params, acts=args.acts, max_draws=args.max_draws
    )
    write_samples(records, args.output)
    seconds = time.perf_counter() - start
    print(
        f"sampled {len(records)} unique {space.name} models (seed {args.seed}) from {records.draws:,} draws "
        f"in {seconds:.2f} s -> {args.output}"
    )
    for metric in ("flops", "params", "acts"):
        values = sorted(r["complexity"][metric] for r in records)
        print(
            f"  {metric:6s} min {si(values[0]):>7s}  median {si(values[len(values) // 2]):>7s}  "
            f"max {si(values[-1]):>7s}"
        )


def cmd_complexity(args) -> None:
    from .complexity import complexity

    models = _models_named(args.file)
    if args.index is not None:
        models = [_pick(models, args.index, args.file)]
    for name, spec in models:
        cx = complexity(spec)
        if args.json:
            print(json.dumps(cx if len(models) == 1 else {"id": name, **cx}))
        elif len(models) == 1:
            for metric, value in cx.items():
                print(f"{metric:6s} {value:>16,d}  ({si(value)})")
        else:
            print(f"{name}  " + "  ".join(f"{metric} {si(value):>7s}" for metric, value in cx.items()))


def _models_named(argument: str) -> list[tuple[str, object]]:
    """The models of the file `argument` or, when there is no such file, the zoo network of that name."""
    from .samples_io import FORMATS

    path = Path(argument)
    if path.is_file() or path.suffix.lower() in (".yaml", ".yml", ".json", *FORMATS):
        return _read_models(path)
    from . import zoo

    try:
        return [(zoo.entry(argument)["name"], zoo.spec(argument))]
    except ValueError as e:
        raise ValueError(f"{argument}: no such file, and {e}") from None


def _read_models(path: Path) -> list[tuple[str, object]]:
    """(name, ModelSpec) of every model in a pycls YAML, a ModelSpec JSON, or a samples file
    (.jsonl, .csv, .parquet; a line of one works too)."""
    from .samples_io import FORMATS, read_samples
    from .spec import ModelSpec

    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        from .pycls_config import from_pycls

        return [(path.stem, from_pycls(path))]
    if suffix in FORMATS:
        return [(record["id"], ModelSpec.from_dict(record["spec"])) for record in read_samples(path)]
    try:
        data = json.loads(path.read_text())
    except UnicodeDecodeError:
        raise ValueError(
            f"{path}: not a text file; expected a ModelSpec JSON, a samples file "
            f"({', '.join(FORMATS)}) or a pycls YAML (.yaml)"
        ) from None
    except json.JSONDecodeError as e:
        raise ValueError(
            f"{path}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno}; truncated?); "
            f"expected a ModelSpec JSON, a samples file ({', '.join(FORMATS)}) or a pycls YAML "
            "(.yaml)"
        ) from None
    if isinstance(data, dict) and "spec" in data:  # a line of a samples file
        return [(data.get("id", path.stem), ModelSpec.from_dict(data["spec"]))]
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object with the ModelSpec keys, got a JSON {type(data).__name__}")
    return [(path.stem, ModelSpec.from_dict(data))]


def _pick(models: list, index: int, path) -> tuple[str, object]:
    if index >= len(models):
        raise ValueError(f"--index {index}: {path} holds {len(models)} model(s), numbered 0 to {len(models) - 1}")
    return models[index]


def cmd_zoo(args) -> None:
    from . import zoo
    from .complexity import complexity

    rows = [{**zoo.entry(name), "designspace": complexity(zoo.spec(name))} for name in zoo.names()]
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return
    print(
        f"{'network':18s} {'designspace params':>18s} {'published':>12s} {'designspace flops':>17s} {'published':>15s}"
    )
    for row in rows:
        counted, published = row["designspace"], row["published"]
        flops = f"{published['flops']:,d}" if "flops" in published else "-"
        print(
            f"{row['name']:18s} {counted['params']:>18,d} {published['params']:>12,d} {counted['flops']:>17,d} "
            f"{flops:>15s}"
        )


def cmd_spaces(args) -> None:
    from .space_file import load_space, shipped_spaces

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

    text = " ".join(args.widths).strip()
    try:
        widths = [int(w) for w in re.split(r"[,\s]+", text)]
    except ValueError:
        if len(args.widths) == 1 and not re.fullmatch(r"[\d,.\s-]+", text):
            raise ValueError(
                f"fit: {text} is neither a sweep directory (no such file or folder) nor per-block "
                "widths such as 24,56,152,152,152"
            ) from None
        raise ValueError(f"fit: {text!r}: give per-block widths as integers, e.g. 24,56,152,152,152") from None
    result = fit(widths)
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"w0 {result['w0']}  wa {result['wa']:g}  wm {result['wm']:g}  depth {result['depth']}  "
            f"e_fit {result['e_fit']:.4f}"
        )
        print(f"fitted widths {result['block_widths']}")


def cmd_train(args) -> None:
    from .train import Engine, train

    recipe = recipe_from(args)
    engine = Engine(device=args.device, threads=args.threads, compile=args.compile)
    engine.resolve_device()
    dataset = dataset_from(args)
    spec = _training_spec(args, dataset)
    note = recipe.initialisation_note([spec.to_dict()])
    if note:
        print(note, file=sys.stderr)
    if not args.json:
        print(f"training on {dataset.describe()}", file=sys.stderr)
    record = train(spec, dataset, recipe, engine, progress=not args.json)
    record["spec"] = spec.to_dict()
    if args.json:
        print(json.dumps(record))
    else:
        best = "n/a" if record["best_error"] is None else f"{record['best_error']:.2f}%"
        print(
            f"{record['status']}: best test error {best} after {record['epochs']} epochs, "
            f"{record['wall_time']:.1f} s, {record['images_per_second']:,.0f} img/s on {record['device']}"
            + (f" ({record['reason']})" if record["reason"] else "")
        )
    if record["status"] == "failed":
        raise SystemExit(1)


def _training_spec(args, dataset):
    """The spec from --spec, the zoo network --model, or one model drawn from --space, the latter two
    for this dataset's images."""
    if args.model:
        return _zoo_network_for(args, dataset)
    if args.spec:
        if args.space:
            raise ValueError("give either --spec or --space, not both")
        shaping = [name for name in (*CONTEXT_FLAGS, "flops") if getattr(args, name) is not None]
        if shaping:
            flags = ", ".join("--" + name.replace("_", "-") for name in shaping)
            raise ValueError(
                f"{flags} shape(s) models drawn with --space; a --spec model is trained as written, "
                "so edit the spec (or draw the model with --space) instead"
            )
        models = _read_models(Path(args.spec))
        if args.index is None and len(models) > 1:
            raise ValueError(
                f"--spec {args.spec} holds {len(models)} models; choose one with --index N (0 to {len(models) - 1})"
            )
        return _pick(models, args.index or 0, args.spec)[1]
    if args.index is not None:
        raise ValueError("--index N picks a model of a --spec samples file; give --spec FILE")
    if not args.space:
        raise ValueError(
            "give --spec FILE or --space NAME (with --seed), or a zoo network with --model NAME, to choose the model"
        )
    from .spec import ModelSpec

    space = space_for_dataset(args, dataset)
    record = space.sample(1, seed=args.seed, flops=args.flops)[0]
    print(
        f"model {record['id']} from {space.name} (seed {args.seed}): {record['sample']}, "
        f"{si(record['complexity']['flops'])} flops, {si(record['complexity']['params'])} params",
        file=sys.stderr,
    )
    return ModelSpec.from_dict(record["spec"])


def _zoo_network_for(args, dataset):
    """The zoo network --model NAME with the dataset's image shape and classes and the context
    flags, each change said in one line on stderr."""
    from . import zoo
    from .complexity import complexity

    others = [name for name in ("spec", "space", "index", "flops") if getattr(args, name) is not None]
    if others:
        raise ValueError(f"--model {args.model} names the model; drop {', '.join('--' + name for name in others)}")
    original = zoo.spec(args.model)
    spec = zoo.spec(
        args.model,
        resolution=dataset.resolution,
        in_channels=dataset.in_channels,
        num_classes=dataset.num_classes,
        **context_overrides(args),
    )
    changes = [
        f"{field} {getattr(original, field)} -> {getattr(spec, field)}"
        for field in ("in_channels", "resolution", "num_classes", *CONTEXT_FLAGS)
        if getattr(spec, field) != getattr(original, field)
    ]
    cx = complexity(spec)
    print(
        f"model {zoo.entry(args.model)['name']} from the zoo{' (' + ', '.join(changes) + ')' if changes else ''}: "
        f"{si(cx['flops'])} flops, {si(cx['params'])} params",
        file=sys.stderr,
    )
    return spec


def cmd_sweep(args) -> None:
    from .results import DEFINITION_FILE, ResultsTable, summary
    from .sweep import run_sweep

    directory, models, definition, dataset = _recorded_sweep(args) if isinstance(args.resume, str) else _new_sweep(args)
    print(f"sweep of {len(models)} models on {dataset.describe()} -> {directory}", file=sys.stderr)
    try:
        table = run_sweep(
            directory,
            models,
            definition,
            address=args.address,
            cpus_per_trial=args.cpus_per_trial,
            gpus_per_trial=args.gpus_per_trial,
            max_concurrent=args.max_concurrent,
            retries=args.retries,
            resume=bool(args.resume),
            data=dataset,
            data_on_nodes=args.data_on_nodes,
        )
    except KeyboardInterrupt:  # before the trials started (Ray still starting): sweep.json is there to resume
        if not (Path(directory) / DEFINITION_FILE).is_file():
            raise
        table = ResultsTable(directory)
    print(summary(directory))
    if len(table.rows) < len(models):
        print(
            f"interrupted: {len(table.rows)} of {len(models)} models done; finish with "
            f"`designspace sweep --resume {directory}`",
            file=sys.stderr,
        )
        raise SystemExit(130)


def _new_sweep(args):
    """The sweep the command line defines: (directory, models, definition, dataset)."""
    from dataclasses import asdict

    from .options import dataset_options, sweep_models
    from .sweep import definition_for

    if not args.output:
        raise ValueError("-o DIR: say where the sweep goes (or resume one with --resume DIR)")
    recipe = recipe_from(args)
    dataset = dataset_from(args)
    models, source = sweep_models(args, dataset)
    note = recipe.initialisation_note([m["spec"] for m in models])
    if note:
        print(note, file=sys.stderr)
    return args.output, models, definition_for(models, dataset_options(args), asdict(recipe), source), dataset


def _recorded_sweep(args):
    """The sweep recorded in the --resume DIR (its sweep.json and samples.jsonl), as _new_sweep
    returns it; only the where-to-run options may be given with it."""
    from .options import SWEEP_DEFINING, load_recorded_dataset, sweep_parser
    from .results import DEFINITION_FILE, DEFINITION_KEYS, read_definition
    from .samples_io import read_samples
    from .sweep import SAMPLES_FILE

    directory = Path(args.resume)
    if args.output and Path(args.output).resolve() != directory.resolve():
        raise ValueError(f"--resume {directory} and -o {args.output} name different sweeps; give one of them")
    defaults = sweep_parser().parse_args([])
    given = [name for name in SWEEP_DEFINING if getattr(args, name) != getattr(defaults, name)]
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise ValueError(
            f"--resume {directory} takes the models, data and recipe from {directory / DEFINITION_FILE}; "
            f"drop {flags} (or give every original option with -o {directory} --resume)"
        )
    definition = read_definition(directory)
    samples = directory / SAMPLES_FILE
    if not samples.is_file():
        raise ValueError(
            f"{samples} is missing, so the sweep's models are unknown; rerun the original command "
            f"with -o {directory} --resume"
        )
    models = read_samples(samples)
    recorded = {key: definition[key] for key in DEFINITION_KEYS}
    dataset = load_recorded_dataset(definition["dataset"], origin=str(directory / DEFINITION_FILE))
    return str(directory), models, recorded, dataset


def cmd_results(args) -> None:
    from .output_files import check_writable
    from .results import export_csv, summary

    if args.csv:
        check_writable(args.csv)
    print(summary(args.directory))
    if args.csv:
        print(f"wrote {export_csv(args.directory, args.csv)}", file=sys.stderr)


# ------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="designspace",
        description="Sample, train and compare populations of networks from design spaces (RegNet / NDS).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sample = commands.add_parser(
        "sample",
        help="draw unique architectures from a design space",
        description="Draw N unique architectures from a space, reproducibly for a seed, "
        "within optional complexity windows.",
    )
    sample.add_argument(
        "--space", required=True, help="a shipped space name (see `designspace spaces`) or a .toml file"
    )
    sample.add_argument("--n", type=positive_int, required=True, help="number of unique models")
    sample.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    add_windows(sample)
    add_context(sample.add_argument_group("network context (overrides the space file)"), with_data_shape=True)
    sample.add_argument(
        "--max-draws", type=positive_int, default=2_000_000, help="give up after this many draws (default 2,000,000)"
    )
    sample.add_argument("-o", "--output", required=True, help="output file: .jsonl, .csv or .parquet")
    sample.set_defaults(run=cmd_sample)

    train = commands.add_parser(
        "train",
        help="train one model briefly and report its errors",
        description="Train one ModelSpec on a dataset (a short training job) and print its result record.",
    )
    model = train.add_argument_group("the model")
    model.add_argument(
        "--spec", help="a ModelSpec JSON, a samples file (see --index) or a line of one, or a pycls YAML"
    )
    model.add_argument(
        "--index",
        type=number(0, integer=True),
        metavar="N",
        help="with --spec SAMPLES: train its model N (counted from 0)",
    )
    model.add_argument("--space", help="draw the model from this space instead (see --seed, --flops)")
    model.add_argument(
        "--model",
        metavar="NAME",
        help="a zoo network (see `designspace zoo`), given the data's image size, channels and classes",
    )
    model.add_argument("--seed", type=seed, default=0, help="which model of --space (default 0)")
    model.add_argument("--flops", type=window, metavar="LO:HI", help="flops window for the drawn model")
    add_context(model, with_data_shape=False)
    add_data(train)
    add_recipe(train)
    engine = train.add_argument_group("how to run")
    engine.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda, cuda:N")
    engine.add_argument(
        "--threads", type=threads, default="auto", help="CPU threads (default auto: the fastest, measured)"
    )
    engine.add_argument("--compile", action="store_true", help="torch.compile the model")
    train.add_argument("--json", action="store_true", help="print the record as JSON (no progress lines)")
    train.set_defaults(run=cmd_train)

    sweep = commands.add_parser(
        "sweep",
        help="train many sampled models as Ray Tune trials",
        description="Sample N models (or read a samples file) and train each briefly, "
        "locally or on a Ray cluster; results land in DIR/results.parquet.",
    )
    add_sweep_arguments(sweep)
    sweep.set_defaults(run=cmd_sweep)

    results = commands.add_parser(
        "results",
        help="summarize a sweep's results table",
        description="Print a summary of DIR/results.parquet; --csv exports it.",
    )
    results.add_argument("directory", help="a sweep directory")
    results.add_argument("--csv", help="also write the table to this CSV file")
    results.set_defaults(run=cmd_results)

    cx = commands.add_parser(
        "complexity",
        help="flops, params and acts of a network",
        description="Print flops (multiply-adds), params and acts, counted as pycls does.",
    )
    cx.add_argument(
        "file",
        help="a pycls YAML config, a ModelSpec JSON file, a samples file, or the name of a zoo "
        "network (see `designspace zoo`)",
    )
    cx.add_argument(
        "--index",
        type=number(0, integer=True),
        metavar="N",
        help="with a samples file: only its model N (default: every model, one line each)",
    )
    cx.add_argument("--json", action="store_true", help="print JSON (one object per model)")
    cx.set_defaults(run=cmd_complexity)

    zoo = commands.add_parser(
        "zoo",
        help="list the named networks with their published and counted sizes",
        description="List the zoo's networks: params and flops as designspace counts them, "
        "beside the published numbers (flops only where pycls published them); "
        "--json adds acts, each number's source and notes.",
    )
    zoo.add_argument("--json", action="store_true", help="print JSON (one object per network)")
    zoo.set_defaults(run=cmd_zoo)

    spaces = commands.add_parser("spaces", help="list the shipped design spaces")
    spaces.set_defaults(run=cmd_spaces)

    fit = commands.add_parser(
        "fit",
        help="fit RegNet's quantized linear widths to per-block widths or a sweep",
        description="Find (w0, wa, wm) whose RegNet widths best match the given per-block "
        "widths, and report e_fit (mean |log ratio|); given a sweep directory, "
        "fit its best models.",
    )
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
