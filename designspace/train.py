"""One short training job: a ModelSpec, a dataset and a recipe in, a result record out.

Studies train hundreds of models, so the job is built for throughput: the dataset sits in
memory (on the GPU when there is one) as uint8, batches are cut by indexing and augmented as a
whole batch, the step loop never waits on the host (losses and error counts accumulate on the
device and are read once per epoch), the model runs in channels_last (faster on CPU and GPU alike),
with bf16 autocast on a GPU. On a CPU the thread count matters more than anything else (one thread per job is
often several times faster than two on a small machine), so "auto" measures it.
"""

from __future__ import annotations

import copy
import math
import sys
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch.profiler import record_function

from .cpus import available_cpus, thread_counts
from .data import Dataset
from .model import build_model, set_drop_path
from .recipe import Recipe
from .records import TrainRecord
from .spec import ModelSpec

# The phases of a training job, as torch.profiler regions (benchmarks/bench_breakdown.py reads them;
# so does any profile a user takes of train()).
PHASES = {phase: f"designspace.{phase}" for phase in ("batch", "forward", "backward", "optimizer", "evaluate")}
# Seconds between the plain progress lines printed during an epoch when stderr is not a terminal
# (a log file gets no live display, and a long epoch would otherwise look like a hang).
PROGRESS_EVERY = 20.0


@dataclass(frozen=True)
class Engine:
    """How to run (not what to learn): device, CPU threads, and GPU options."""

    device: str = "auto"  # "auto" (cuda when available), "cpu", "cuda", "cuda:1", ...
    threads: int | str = "auto"  # CPU threads for this job; "auto" measures the fastest
    channels_last: bool = True  # measured 1.3-2x faster on CPU (oneDNN) as well as on GPU
    bf16: bool | str = "auto"  # bf16 autocast; auto: on CUDA only (slower than fp32 on CPUs measured)
    compile: bool = False  # torch.compile the model (CPU: 58-83 s per model, RegNetX 1.08x, MobileNet 0.6x)
    eval_batch_size: int = 1024

    def resolve_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        device = torch.device(self.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {self.device}: CUDA is not available on this machine")
        return device


def train(
    spec: ModelSpec,
    dataset: Dataset,
    recipe: Recipe = Recipe(),
    engine: Engine = Engine(),
    progress: bool | None = None,
) -> TrainRecord:
    """Train `spec` on `dataset`; return the result record (status ok, diverged or failed).

    progress (default: when stderr is a terminal) prints a line per epoch on stderr, and off a
    terminal also a line every PROGRESS_EVERY seconds within an epoch. A spec that does not fit
    the dataset's images or classes is a ValueError before training.
    """
    check_compatible(spec, dataset)
    dataset = dataset.resized(spec.resolution)
    device = engine.resolve_device()
    progress = sys.stderr.isatty() if progress is None else progress
    record: TrainRecord = {
        "status": "ok",
        "reason": None,
        "final_error": None,
        "best_error": None,
        "train_loss": [],
        "test_error": [],
        "epochs": 0,
        "wall_time": 0.0,
        "images_per_second": 0.0,
        "device": describe_device(device),
        "threads": None,
        "dataset": dataset.name,
        "train_images": len(dataset.train_labels),
        "test_images": len(dataset.test_labels),
        "recipe": asdict(recipe),
    }
    start = time.perf_counter()
    try:
        _run(spec, dataset, recipe, engine, device, record, progress)
    except (RuntimeError, ValueError, IndexError, MemoryError) as e:  # the job fails; the record stays
        record["status"], record["reason"] = "failed", f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    record["wall_time"] = time.perf_counter() - start
    return record


def check_compatible(spec: ModelSpec, dataset: Dataset) -> None:
    """The spec must take the dataset's channels and classes, and its images at their size or
    smaller (a resolution multiplier: train() shrinks them)."""
    wanted = (spec.in_channels, spec.resolution, spec.num_classes)
    have = (dataset.in_channels, dataset.resolution, dataset.num_classes)
    if (wanted[0], wanted[2]) != (have[0], have[2]) or wanted[1] > have[1]:
        raise ValueError(
            f"the spec takes {wanted[0]}x{wanted[1]}x{wanted[1]} inputs and {wanted[2]} classes, but {dataset.name} "
            f"has {have[0]}x{have[1]}x{have[1]} images and {have[2]} classes; sample the space with "
            f"--resolution {have[1]} --in-channels {have[0]} --num-classes {have[2]}"
        )


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return "cpu"


class Batches:
    """Shuffled, augmented, normalized batches cut from in-memory uint8 tensors on `device`."""

    def __init__(self, dataset: Dataset, recipe: Recipe, device: torch.device, memory_format):
        self.images = dataset.train_images.to(device)
        self.labels = dataset.train_labels.to(device)
        self.test_images = dataset.test_images.to(device)
        self.test_labels = dataset.test_labels.to(device)
        self.batch_size, self.memory_format = recipe.batch_size, memory_format
        self.padding = dataset.crop_padding if recipe.augment else 0
        self.flip = dataset.flip and recipe.augment
        std = torch.tensor(dataset.std, device=device).view(1, -1, 1, 1)
        self.scale = 1.0 / (255.0 * std)
        self.shift = -torch.tensor(dataset.mean, device=device).view(1, -1, 1, 1) / std
        self.generator = torch.Generator(device=device).manual_seed(recipe.seed)
        self.steps_per_epoch = math.ceil(len(self.labels) / self.batch_size)

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.shift, images.float(), self.scale).contiguous(memory_format=self.memory_format)

    def augment(self, images: torch.Tensor) -> torch.Tensor:
        n, _, h, w = images.shape
        device = images.device
        if self.padding:
            p = self.padding
            padded = F.pad(images, (p, p, p, p))
            dy = torch.randint(0, 2 * p + 1, (n, 1), device=device, generator=self.generator)
            dx = torch.randint(0, 2 * p + 1, (n, 1), device=device, generator=self.generator)
            rows = (dy + torch.arange(h, device=device))[:, None, :, None]
            cols = (dx + torch.arange(w, device=device))[:, None, None, :]
            channels = torch.arange(images.shape[1], device=device)[None, :, None, None]
            images = padded[torch.arange(n, device=device)[:, None, None, None], channels, rows, cols]
        if self.flip:
            flip = torch.rand(n, device=device, generator=self.generator) < 0.5
            images = torch.where(flip[:, None, None, None], images.flip(3), images)
        return images

    def epoch(self):
        order = torch.randperm(len(self.labels), device=self.labels.device, generator=self.generator)
        for i in range(self.steps_per_epoch):
            with record_function(PHASES["batch"]):
                index = order[i * self.batch_size : (i + 1) * self.batch_size]
                batch = self.normalize(self.augment(self.images[index])), self.labels[index]
            yield batch

    def test(self, batch_size: int):
        for i in range(0, len(self.test_labels), batch_size):
            yield self.normalize(self.test_images[i : i + batch_size]), self.test_labels[i : i + batch_size]


def parameter_groups(model: torch.nn.Module, recipe: Recipe) -> list[dict]:
    """Weight decay on conv/linear weights; on BN parameters and biases only if bn_weight_decay."""
    decay, no_decay = [], []
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            is_bn = isinstance(module, torch.nn.modules.batchnorm._BatchNorm)
            (no_decay if (is_bn or name == "bias") and not recipe.bn_weight_decay else decay).append(p)
    return [{"params": decay, "weight_decay": recipe.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _run(spec, dataset, recipe, engine, device, record, progress) -> None:
    torch.manual_seed(recipe.seed)
    model = build_model(spec, zero_init_final_bn=recipe.zero_init_final_bn)
    memory_format = torch.channels_last if engine.channels_last else torch.contiguous_format
    model = model.to(device, memory_format=memory_format)
    batches = Batches(dataset, recipe, device, memory_format)
    if device.type == "cpu":
        record["threads"] = choose_threads(model, batches, engine.threads)
    if recipe.drop_path and not set_drop_path(model, recipe.drop_path):
        raise ValueError(
            f"recipe.drop_path: this {spec.block_type} network has no residual branch to drop; set it to 0"
        )
    bf16 = engine.bf16 is True or (engine.bf16 == "auto" and device.type == "cuda")
    optimizer = torch.optim.SGD(
        parameter_groups(model, recipe),
        lr=recipe.lr,
        momentum=recipe.momentum,
        nesterov=recipe.nesterov and recipe.momentum > 0,
    )
    step_model = torch.compile(model) if engine.compile else model
    train_seconds, images_seen, step = 0.0, 0, 0
    heartbeat = _Heartbeat(recipe.epochs, batches) if progress and not sys.stderr.isatty() else None
    for epoch in range(recipe.epochs):
        model.train()
        epoch_start = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        for done, (images, labels) in enumerate(batches.epoch(), 1):
            with record_function(PHASES["forward"]), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                loss = F.cross_entropy(step_model(images), labels, label_smoothing=recipe.label_smoothing)
            with record_function(PHASES["backward"]):
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
            with record_function(PHASES["optimizer"]):
                lr = recipe.lr_at(step, batches.steps_per_epoch)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                optimizer.step()
                loss_sum += loss.detach() * len(labels)
            step += 1
            if heartbeat is not None:
                heartbeat(epoch, done, epoch_start)
        train_loss = float(loss_sum) / len(batches.labels)  # the epoch's one host sync
        train_seconds += time.perf_counter() - epoch_start
        images_seen += len(batches.labels)
        record["epochs"] = epoch + 1
        record["train_loss"].append(train_loss)
        if not math.isfinite(train_loss):
            record["status"], record["reason"] = "diverged", f"non-finite training loss in epoch {epoch + 1}"
            record["test_error"].append(None)
            break
        with record_function(PHASES["evaluate"]):
            error = evaluate(step_model, batches, engine.eval_batch_size, bf16)
        record["test_error"].append(error)
        if progress:
            print(
                f"epoch {epoch + 1}/{recipe.epochs}  loss {train_loss:.4f}  test error {error:.2f}%  "
                f"{images_seen / train_seconds:,.0f} img/s",
                file=sys.stderr,
                flush=True,
            )
    errors = [e for e in record["test_error"] if e is not None]
    record["final_error"] = record["test_error"][-1] if record["status"] == "ok" else None
    record["best_error"] = min(errors) if errors else None
    record["images_per_second"] = images_seen / train_seconds if train_seconds else 0.0


class _Heartbeat:
    """Plain progress lines within epochs (epoch, batches done of total, img/s, elapsed) every
    PROGRESS_EVERY seconds, for a log file. It reads only the host clock: no device sync."""

    def __init__(self, epochs: int, batches: Batches):
        self.epochs, self.batches = epochs, batches
        self.start = time.perf_counter()
        self.next_line = self.start + PROGRESS_EVERY

    def __call__(self, epoch: int, done: int, epoch_start: float) -> None:
        now = time.perf_counter()
        if now < self.next_line:
            return
        self.next_line = now + PROGRESS_EVERY
        images = min(done * self.batches.batch_size, len(self.batches.labels))
        print(
            f"epoch {epoch + 1}/{self.epochs}  batch {done}/{self.batches.steps_per_epoch}  "
            f"{images / max(now - epoch_start, 1e-9):,.0f} img/s  {now - self.start:.0f} s elapsed",
            file=sys.stderr,
            flush=True,
        )


@torch.no_grad()
def evaluate(model, batches: Batches, batch_size: int, bf16: bool) -> float:
    """Top-1 test error in %."""
    model.eval()
    device = batches.test_labels.device
    wrong = torch.zeros((), dtype=torch.int64, device=device)
    for images, labels in batches.test(batch_size):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            wrong += (model(images).argmax(1) != labels).sum()
    return 100.0 * float(wrong) / len(batches.test_labels)


def choose_threads(model, batches: Batches, threads) -> int:
    """Set torch's CPU threads; "auto" times a few training steps at each candidate count (for one
    job alone; a sweep runs several at once and takes its threads from cpu_layout instead)."""
    if threads != "auto":
        torch.set_num_threads(int(threads))
        return int(threads)
    candidates = thread_counts(available_cpus())
    if len(candidates) == 1:
        torch.set_num_threads(1)
        return 1
    probe = copy.deepcopy(model).train()
    # The first images, not a shuffled batch: the probe must not advance the data generator, or
    # "auto" would train on another order than a fixed thread count does.
    images, labels = batches.normalize(batches.images[: batches.batch_size]), batches.labels[: batches.batch_size]
    timings = {}
    for count in candidates:
        torch.set_num_threads(count)
        F.cross_entropy(probe(images), labels).backward()  # warm-up
        start = time.perf_counter()
        for _ in range(2):
            F.cross_entropy(probe(images), labels).backward()
        timings[count] = time.perf_counter() - start
    best = min(timings, key=timings.get)
    torch.set_num_threads(best)
    return best
