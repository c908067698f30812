"""The shipped digit network's recipe, from fresh weights in one command (``python model.py rebuild``).

Two members are trained from fresh weights on MNIST and the extra set (each its own seed, so its own extra set),
averaged (``training.network.build_ensemble``) and the average fine-tuned as one network at a lower learning rate
on a third extra set: the chain of runs that made the network of 2026-12-03 (docs/MODEL_CARD_digits.md), made
repeatable. Beside the model, ``training_history.json`` holds every run's record and the provenance: the command,
the recipe, the commit and the SHA-256 of every data file read (after FSDL's ``artifacts/run_command.txt``).
``distill`` (``python model.py distill``) teaches one network the average's answers (``training.distill``).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

from datasets import load_mnist, mnist_dir, realworld_path
from recognizer.mnist import KERAS_MODEL_PATH, ROOT
from training import provenance
from training.digits import TrainResult, extra_set, mnist_split, train
from training.distill import member_file
from training.ensemble import combine
from training.network import HISTORY_FILENAME

RECIPE = {
    "seed": 20261206,  # member i trains from seed + i, the fine-tuning from seed + members
    "members": 3,
    "member_epochs": 30,
    "member_learning_rate": 2e-3,
    "finetune_epochs": 4,
    "finetune_learning_rate": 3e-4,
    "extra_scale": 0.4,
    "batch_size": 128,
}

DISTILL = {  # chosen before the run (docs/performance.md, 2026-12-06, fifth session)
    "member": 0,  # the teacher's member the student starts from
    "epochs": 5,
    "learning_rate": 3e-4,  # the fine-tuning's of RECIPE
    "extra_scale": 0.4,  # RECIPE's
    "seed": 20261216,
    "temperature": 1.0,  # of the teacher's and the student's probabilities in the loss
}


def rebuild(
    output_dir: str | os.PathLike = ROOT,
    recipe: dict | None = None,
    data_dir=None,
    work_dir: str | os.PathLike | None = None,
    verbose="auto",
    log=print,
    **limits,
) -> TrainResult:
    """Train the digit network by ``RECIPE`` (``recipe`` overrides it) into ``output_dir``.

    Members go to ``work_dir``/members/seed-N (default ``output_dir``/../runs/rebuild beside the project),
    their average to ``work_dir``/average, the fine-tuned average to ``output_dir`` (``mnist_cnn.h5``,
    ``.tflite`` where TensorFlow is installed, ``training_history.json``). Each extra set is kept in
    ``work_dir``/extra-<seed>.npz and reused when present (it depends on its seed and scale only).
    ``limits``: ``train``'s ``train_limit`` and ``test_limit``, for a quick run on a sample.
    Returns the fine-tuning's ``TrainResult``.
    """
    recipe = {**RECIPE, **(recipe or {})}
    started, commit = time.time(), provenance.commit()
    output_dir = Path(output_dir)
    work_dir = Path(work_dir) if work_dir else ROOT / "runs" / "rebuild"
    work_dir.mkdir(parents=True, exist_ok=True)
    seed, scale = recipe["seed"], recipe["extra_scale"]

    def extra_cache(run_seed: int) -> Path:
        return _extra_cache(work_dir, run_seed, scale, limits.get("train_limit"))

    runs = [seed + i for i in range(recipe["members"])] + [seed + recipe["members"]]
    mnist_train, _ = load_mnist(data_dir)
    for run_seed in runs:  # every extra set first: its process pool forks, which JAX's threads do not survive
        fit, _, _ = mnist_split(mnist_train, run_seed, limits.get("train_limit"))
        extra_set(fit, scale, run_seed, extra_cache(run_seed))
    members = []
    for i in range(recipe["members"]):
        log(f"member {i + 1}/{recipe['members']}: {recipe['member_epochs']} epochs from fresh weights, seed {seed + i}")
        members.append(
            train(
                data_dir,
                work_dir / "members" / f"seed-{seed + i}",
                recipe["member_epochs"],
                recipe["batch_size"],
                seed=seed + i,
                extra_scale=scale,
                extra_cache=extra_cache(seed + i),
                verbose=verbose,
                learning_rate=recipe["member_learning_rate"],
                **limits,
            )
        )
        log(f"member {i + 1}: MNIST test {members[-1].test_accuracy:.4%}")
    average = combine([m.keras_path for m in members], work_dir / "average", data_dir, limits.get("test_limit"))
    log(f"average of {len(members)}: MNIST test {average.test_accuracy:.4%}")
    fine_seed = seed + recipe["members"]
    log(f"fine-tuning the average: {recipe['finetune_epochs']} epochs, seed {fine_seed}")
    result = train(
        data_dir,
        output_dir,
        recipe["finetune_epochs"],
        recipe["batch_size"],
        seed=fine_seed,
        extra_scale=scale,
        extra_cache=extra_cache(fine_seed),
        verbose=verbose,
        init_model=average.keras_path,
        learning_rate=recipe["finetune_learning_rate"],
        **limits,
    )
    log(f"fine-tuned: MNIST test {result.test_accuracy:.4%}")

    record_path = output_dir / HISTORY_FILENAME
    record = json.loads(record_path.read_text())
    record["provenance"] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "recipe": recipe,
        "limits": limits,
        "commit": commit,
        "minutes": round((time.time() - started) / 60, 1),
        "data_sha256": data_hashes(data_dir, [extra_cache(s) for s in runs]),
    }
    record_path.write_text(json.dumps(record, indent=1) + "\n")
    (output_dir / "run_command.txt").write_text(record["provenance"]["command"] + "\n")
    if output_dir != work_dir:
        shutil.copy(record_path, work_dir / HISTORY_FILENAME)
    return result


def data_hashes(data_dir, extra_sets: list[Path]) -> dict[str, str]:
    """SHA-256 of the MNIST files, ``sudoku_cells_train`` and the extra sets a rebuild read: name -> hex digest."""
    mnist = sorted(p for p in mnist_dir(data_dir).glob("*") if p.is_file() and p.suffix != ".md")
    return provenance.sha256_files([*mnist, realworld_path("sudoku_cells_train"), *extra_sets])


def distill(
    output_dir: str | os.PathLike,
    teacher_path: str | os.PathLike = KERAS_MODEL_PATH,
    work_dir: str | os.PathLike | None = None,
    data_dir=None,
    verbose="auto",
    **settings,
):
    """Train one network from the teacher at ``teacher_path`` into ``output_dir`` by ``DISTILL`` (``settings``
    override it, and ``train_limit``/``test_limit`` pass to ``train`` for a quick run). Returns ``train``'s
    TrainResult; the record says which teacher taught it."""
    config = {**DISTILL, **settings}  # every key but "member" is one of train's parameters
    work_dir = Path(work_dir) if work_dir else ROOT / "runs" / "distill"
    init = member_file(teacher_path, config.pop("member"), work_dir)
    cache = _extra_cache(work_dir, config["seed"], config["extra_scale"], config.get("train_limit"))
    return train(
        data_dir, output_dir, extra_cache=cache, verbose=verbose, init_model=init, teacher=teacher_path, **config
    )


def _extra_cache(work_dir: Path, seed: int, scale: float, train_limit: int | None) -> Path:
    """Where the extra set of ``seed`` and ``scale`` (from ``train_limit`` MNIST images, or all) is kept."""
    return work_dir / f"extra-{seed}-{scale}-{train_limit or 'all'}.npz"
