"""The networks' command line: train, combine and convert the digit network, and train the string reader.

The digit network and its training defaults are ``training.network``; the rest of its training lives beside it in
``training/`` (augmentation, the extra set, real cells, the training run, ensembles, conversion), the string
reader in ``training/strings.py``, and the synthetic inputs they train on in ``synth/``. Training runs on any
Keras 3 backend; TensorFlow is needed only to convert to LiteRT. The server never imports this module.

Command line (see ``python model.py --help``):
    python model.py train [--members 1] [--epochs 30] [--extra-scale 1] [--data-dir DIR] [--output-dir DIR]
                          [--extra-data PATH.npz]
    python model.py combine runs/ens/members/seed-*/mnist_cnn.h5   # average members already trained
    python model.py rebuild                                       # the shipped recipe from fresh weights
    python model.py distill --output-dir runs/distill/student     # one network taught by the shipped average
    python model.py convert                                       # mnist_cnn.tflite and mnist_cnn_int8.tflite
    python model.py train-strings [--members 1] [--steps N] [--synthetic N]
                                   [--init K --learning-rate R --data-seed S]
                                   [--filters 16,48,96,96,128 --frame-units 192]
                                   [--real-variants 16 --real-share 0.3] [--corrections PATH.npz]
                                   # the string reader (training/strings.py): a committee of networks trained
                                   # from their own data seeds, or one from --data-seed
    KERAS_BACKEND=jax python model.py train-strings ...        # the same on a GPU machine, then, with TensorFlow:
    python model.py convert-strings --model runs/.../digit_strings.keras
    python model.py serve-strings-for-photos runs/.../digit_strings.keras   # that reader reads photos and scans
Measurements: ``python evaluation.py``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from recognizer.mnist import KERAS_MODEL_PATH, ROOT, little_model_path
from training.convert import convert_to_int8_weights, convert_to_tflite
from training.ensemble import combine, train_ensemble
from training.network import BATCH_SIZE, EPOCHS, EXTRA_SCALE, LEARNING_RATE, MEMBERS, SEED


def _given(args: argparse.Namespace, *names: str) -> dict:
    """The options among ``names`` given on the command line (not None): name -> value, to override a config."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def keras_backend() -> str:
    """The Keras backend this process trains on ("tensorflow", "jax" or "torch"; set by $KERAS_BACKEND)."""
    import keras

    return keras.backend.backend()


def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_train = sub.add_parser("train", help="train on MNIST, save the .h5 and .tflite, print test accuracy")
    p_train.add_argument("--epochs", type=int, default=EPOCHS)
    p_train.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    p_train.add_argument("--train-limit", type=int, default=None, help="use only this many training images")
    p_train.add_argument("--output-dir", default=str(ROOT))
    p_train.add_argument("--seed", type=int, default=SEED)
    p_train.add_argument("--members", type=int, default=MEMBERS, help="networks to train and average")
    p_train.add_argument(
        "--extra-scale",
        type=float,
        default=EXTRA_SCALE,
        help="size of the extra (non-MNIST) training set, a multiple of EXTRA_COUNTS; 0 = none",
    )
    p_train.add_argument("--extra-cache", default=None, help=".npz to keep the extra set in between runs")
    p_train.add_argument(
        "--verbose", type=int, default=None, help="Keras fit verbosity: 0 silent, 1 progress bar, 2 a line an epoch"
    )
    p_train.add_argument("--extra-data", default=None, help="an .npz from `flask corrections export` to train on too")
    p_train.add_argument("--init", default=None, help="a saved .h5 of this network to go on training from (fine-tune)")
    p_train.add_argument(
        "--learning-rate",
        type=float,
        default=LEARNING_RATE,
        help="the cosine schedule's first learning rate (lower it to fine-tune from --init)",
    )
    p_combine = sub.add_parser("combine", help="average trained member models into mnist_cnn.h5 and .tflite")
    p_combine.add_argument("members", nargs="+", help="member .h5 files (each beside its training_history.json)")
    p_combine.add_argument("--output-dir", default=str(ROOT))
    p_rebuild = sub.add_parser(
        "rebuild",
        help="train the shipped digit network from fresh weights by "
        "training.rebuild.RECIPE: three members, averaged, fine-tuned",
    )
    p_rebuild.add_argument("--output-dir", default=str(ROOT))
    p_rebuild.add_argument("--work-dir", default=None, help="members, average and extra sets (default: runs/rebuild)")
    p_rebuild.add_argument("--members", type=int, default=None, help="networks averaged (default: RECIPE's)")
    p_rebuild.add_argument("--member-epochs", type=int, default=None)
    p_rebuild.add_argument("--finetune-epochs", type=int, default=None)
    p_rebuild.add_argument("--extra-scale", type=float, default=None, help="the extra set's size (a test: 0.01)")
    p_rebuild.add_argument("--train-limit", type=int, default=None, help="use only this many MNIST images (a test)")
    p_rebuild.add_argument("--verbose", type=int, default=2, help="Keras fit verbosity (2: a line an epoch)")
    p_distill = sub.add_parser(
        "distill", help="teach one network the answers of the two-member average (training.rebuild.DISTILL)"
    )
    p_distill.add_argument("--output-dir", required=True, help="where the student's files go (not the project's)")
    p_distill.add_argument("--teacher", default=str(KERAS_MODEL_PATH), help="the average to learn from (.h5)")
    p_distill.add_argument("--work-dir", default=None, help="the starting member and extra set (runs/distill)")
    p_distill.add_argument("--epochs", type=int, default=None, help="default: DISTILL's")
    p_distill.add_argument("--temperature", type=float, default=None, help="of the targets (default: DISTILL's)")
    p_distill.add_argument("--train-limit", type=int, default=None, help="use only this many MNIST images (a test)")
    p_distill.add_argument("--extra-scale", type=float, default=None, help="the extra set's size (a test: 0.01)")
    p_distill.add_argument("--verbose", type=int, default=2, help="Keras fit verbosity (2: a line an epoch)")
    p_convert = sub.add_parser(
        "convert", help="convert mnist_cnn.h5 to mnist_cnn.tflite and its little int8 file, mnist_cnn_int8.tflite"
    )
    p_convert.add_argument("--model", default=str(KERAS_MODEL_PATH))
    p_convert_strings = sub.add_parser(
        "convert-strings", help="convert a string reader (.keras) to .tflite beside it (needs TensorFlow)"
    )
    p_convert_strings.add_argument("--model", default=None, help="default: digit_strings.keras")
    p_photos = sub.add_parser(
        "serve-strings-for-photos",
        help="serve a trained string reader (.keras with .tflite and .json beside it) for photos and scans only, "
        "beside digit_strings.keras (which keeps drawings)",
    )
    p_photos.add_argument("model", help="the .keras, e.g. runs/strings/photos/digit_strings.keras")
    p_strings = sub.add_parser(
        "train-strings",
        help="train the string reader, from fresh weights or --init's "
        "(digit_strings.keras, .tflite and .json beside it)",
    )
    p_strings.add_argument("--steps", type=int, default=None, help="training steps (default: training.strings.CONFIG)")
    p_strings.add_argument("--synthetic", type=int, default=None, help="synthetic lines to make")
    p_strings.add_argument("--output", default=None, help="the .keras to write (default: digit_strings.keras)")
    p_strings.add_argument("--init", default=None, help="a .keras reader to fine-tune instead of fresh weights")
    p_strings.add_argument("--learning-rate", type=float, default=None, help="peak learning rate (cosine decay)")
    p_strings.add_argument(
        "--data-seed",
        type=int,
        default=None,
        help="train one network from this seed of the synthetic lines, real variants and batches "
        "(the held-out real amounts stay those of CONFIG's seed) instead of the committee",
    )
    p_strings.add_argument(
        "--members",
        type=int,
        default=None,
        help="networks of the committee to train, each from its own data seed (training.strings.member_data_seed; "
        "written <output>, <output>_2, ...; default training.strings.COMMITTEE_MEMBERS)",
    )
    p_strings.add_argument("--realworld-dir", default=None, help="folder of orand_car_a_train.npz")
    p_strings.add_argument(
        "--corrections", default=None, help="an .npz from `flask corrections export`: its numbers are trained on too"
    )
    p_strings.add_argument(
        "--filters",
        type=lambda text: [int(f) for f in text.split(",")],
        default=None,
        help="the five convolutions' widths, comma-separated (default: training.strings.CONFIG)",
    )
    p_strings.add_argument("--frame-units", type=int, default=None, help="the 1-D convolutions' width")
    p_strings.add_argument("--recurrent", type=int, default=None, help="units of a bidirectional LSTM (0: none)")
    p_strings.add_argument(
        "--fresh-every",
        type=int,
        default=None,
        help="replace --fresh-chunk synthetic lines by new ones every this many steps (0: never)",
    )
    p_strings.add_argument("--fresh-chunk", type=int, default=None, help="lines replaced each time (default 500)")
    p_strings.add_argument("--real-variants", type=int, default=None, help="augmented copies of each real amount")
    p_strings.add_argument("--real-share", type=float, default=None, help="share of each batch from real amounts")
    p_strings.add_argument(
        "--bucket",
        type=int,
        default=None,
        help="draw each batch among this many times its size lines of about one width (0: uniformly; faster "
        "steps, less padding)",
    )
    p_strings.add_argument(
        "--splice", type=int, default=None, help="real amounts recombined into this many more real lines (0: none)"
    )
    p_strings.add_argument(
        "--real-steps",
        type=int,
        default=None,
        help="a second phase of this many steps on mostly real amounts (training.strings.REAL_PHASE; 0: none)",
    )
    p_strings.add_argument(
        "--real-phase-share",
        type=float,
        default=None,
        help="the second phase's share of each batch from real amounts (default: training.strings.REAL_PHASE's)",
    )
    p_strings.add_argument(
        "--lines",
        choices=("found", "finer"),
        default=None,
        help="finer: a small photo's line found again in the photo scaled up, in training and when served (default "
        "found)",
    )
    p_strings.add_argument(
        "--empty", type=int, default=None, help="synthetic scenes of lines that hold no number (0: none)"
    )
    p_strings.add_argument(
        "--empty-share", type=float, default=None, help="share of the synthetic draws given to no-number lines"
    )
    p_strings.add_argument(
        "--cells", type=int, default=None, help="lines of real sudoku_cells_train digits side by side (0: none)"
    )
    p_strings.add_argument(
        "--cells-share", type=float, default=None, help="share of the synthetic draws given to those lines"
    )
    p_strings.add_argument(
        "--signed", type=int, default=None, help="lines of numbers with a leading minus or a terminator (0: none)"
    )
    p_strings.add_argument(
        "--signed-share", type=float, default=None, help="share of the synthetic draws given to signed lines"
    )
    for p in (p_train, p_rebuild, p_distill):
        p.add_argument(
            "--data-dir", default=None, help="MNIST folder (default: $MNIST_DATA_DIR or ../shared/data/mnist)"
        )
    args = parser.parse_args(argv)

    if args.command == "train":
        result = train_ensemble(
            args.members,
            args.output_dir,
            args.seed,
            args.data_dir,
            epochs=args.epochs,
            batch_size=args.batch_size,
            train_limit=args.train_limit,
            extra_scale=args.extra_scale,
            extra_cache=args.extra_cache,
            verbose="auto" if args.verbose is None else args.verbose,
            extra_data=args.extra_data,
            init_model=args.init,
            learning_rate=args.learning_rate,
        )
        print(
            f"MNIST test accuracy: {result.test_accuracy:.4%} ({args.members} member(s), {args.epochs} epochs "
            f"each, {result.seconds / 60:.1f} min); wrote {result.keras_path} and {result.tflite_path}"
        )
    elif args.command == "combine":
        result = combine(args.members, args.output_dir)
        print(
            f"MNIST test accuracy of the average of {len(args.members)}: {result.test_accuracy:.4%}; "
            f"wrote {result.keras_path} and {result.tflite_path}"
        )
    elif args.command == "rebuild":
        from training.rebuild import rebuild

        recipe = _given(args, "members", "member_epochs", "finetune_epochs", "extra_scale")
        limits = {"train_limit": args.train_limit} if args.train_limit else {}
        result = rebuild(
            args.output_dir,
            recipe,
            args.data_dir,
            args.work_dir,
            args.verbose,
            log=lambda m: print(m, flush=True),
            **limits,
        )
        print(f"MNIST test accuracy: {result.test_accuracy:.4%}; wrote {result.keras_path} and {result.tflite_path}")
    elif args.command == "distill":
        from training.rebuild import distill

        settings = _given(args, "epochs", "extra_scale", "train_limit", "temperature")
        result = distill(args.output_dir, args.teacher, args.work_dir, args.data_dir, args.verbose, **settings)
        print(f"MNIST test accuracy: {result.test_accuracy:.4%}; wrote {result.keras_path} and {result.tflite_path}")
    elif args.command == "convert":
        path = convert_to_tflite(args.model, Path(args.model).with_suffix(".tflite"))
        little = convert_to_int8_weights(args.model, little_model_path(path))
        print(f"wrote {path} and {little}")
    elif args.command == "train-strings":
        from training import strings

        overrides = _given(
            args,
            "steps",
            "synthetic",
            "init",
            "learning_rate",
            "filters",
            "frame_units",
            "recurrent",
            "fresh_every",
            "fresh_chunk",
            "real_variants",
            "real_share",
            "splice",
            "bucket",
            "real_steps",
            "real_phase_share",
            "corrections",
            "lines",
            "empty",
            "empty_share",
            "cells",
            "cells_share",
            "signed",
            "signed_share",
        )
        output = Path(args.output) if args.output else strings.STRING_KERAS_PATH
        # A given --data-seed trains one network from it; otherwise --members of the committee's seeds.
        seeds = [strings.member_data_seed(k) for k in range(args.members or strings.COMMITTEE_MEMBERS)]
        if args.data_seed is not None:
            seeds = [args.data_seed]
        backend = keras_backend()
        paths = []
        for index, data_seed in enumerate(seeds):
            path = strings.member_path(output, index)
            member = {**overrides, "data_seed": data_seed}
            print(f"member {index + 1} of {len(seeds)} (data seed {data_seed}): {path}", flush=True)
            strings.train_strings(path, member, data_dir=args.realworld_dir, log=lambda m: print(m, flush=True))
            record = strings.choose_threshold(path, args.realworld_dir)
            print(
                f"held-out real amounts: {record['holdout_exact']:.1%} exact; threshold {record['threshold']:.3f} "
                f"reads {record['holdout_read_rate']:.1%} at <= 1% error"
            )
            if backend == "tensorflow":
                print(f"wrote {strings.convert_strings(path, path.with_suffix('.tflite'))}")
            else:  # LiteRT's converter needs TensorFlow's Keras backend
                print(f"not converted on {backend}: run `python model.py convert-strings --model {path}`")
            paths.append(path)
        if len(paths) > 1:
            committee = strings.choose_committee(paths, args.realworld_dir)
            print(
                f"committee of {len(paths)}: held-out real amounts {committee['holdout_exact']:.1%} exact; threshold "
                f"{committee['threshold']:.3f} reads {committee['holdout_read_rate']:.1%} at <= 1% error"
            )
    elif args.command == "convert-strings":
        from training import strings

        keras_path = Path(args.model) if args.model else strings.STRING_KERAS_PATH
        print(f"wrote {strings.convert_strings(keras_path, keras_path.with_suffix('.tflite'))}")
    elif args.command == "serve-strings-for-photos":
        from training import strings

        print(f"serving {strings.serve_for_photos(Path(args.model))} for the lines of photos and scans")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
