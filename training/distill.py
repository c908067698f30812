"""One network taught by the shipped two-member average: distillation (Hinton, Vinyals & Dean, 2015, "Distilling the
knowledge in a neural network", arXiv 1503.02531), so the server runs one member's network, half the cost.

The student starts from one member of the teacher (its weights as the average was fine-tuned) and is trained on
``training.digits.train``'s data and augmentation with the teacher's probabilities of each augmented batch as its
targets, at temperature 1 (the teacher's output is already a probability, the mean of its members'), so it learns
the average's answer on every image, its "not a digit" included, rather than the labels alone. The command:
``python model.py distill`` (``training.rebuild.distill``, its settings ``DISTILL``).
"""

from __future__ import annotations

import os
from pathlib import Path

from recognizer.mnist import INPUT_SHAPE, KERAS_MODEL_PATH, NUM_CLASSES
from training.augment import augmentation_layer


def distillation_trainer(student, teacher, seed: int):
    """The model ``fit`` trains: a batch (B, 28, 28, 1) augmented once, then the student's probabilities beside
    the frozen teacher's (inference mode, no gradient): (B, 2 * NUM_CLASSES). Train it with ``distillation_loss``."""
    import keras

    teacher.trainable = False
    inputs = keras.Input(shape=INPUT_SHAPE)
    augmented = augmentation_layer(seed)(inputs)
    targets = keras.ops.stop_gradient(teacher(augmented, training=False))
    outputs = keras.layers.Concatenate()([student(augmented), targets])
    return keras.Model(inputs, outputs, name="distiller")


def distillation_loss(temperature: float = 1.0):
    """The loss: cross-entropy of the student's probabilities (``y_pred[:, :11]``) against the teacher's
    (``[:, 11:]``), per image, both softened at ``temperature`` (log-probabilities divided by it, softmax again) and
    scaled by its square, as Hinton et al. do; the labels ``y_true`` are not used (the teacher's answer is the target).
    """
    import keras

    def loss(y_true, y_pred):
        student, teacher = y_pred[:, :NUM_CLASSES], y_pred[:, NUM_CLASSES:]
        if temperature == 1.0:
            return keras.losses.categorical_crossentropy(teacher, student)
        soften = lambda p: keras.ops.softmax(keras.ops.log(keras.ops.maximum(p, 1e-12)) / temperature)  # noqa: E731
        return temperature**2 * keras.losses.categorical_crossentropy(soften(teacher), soften(student))

    return loss


def student_accuracy(y_true, y_pred):
    """The share of a batch whose student's likeliest class is the label (a metric beside the loss)."""
    import keras

    predicted = keras.ops.argmax(y_pred[:, :NUM_CLASSES], axis=-1)
    labels = keras.ops.cast(keras.ops.reshape(y_true, (-1,)), predicted.dtype)
    return keras.ops.mean(keras.ops.cast(keras.ops.equal(predicted, labels), "float32"))


def member_file(teacher_path: str | os.PathLike, index: int, work_dir: str | os.PathLike) -> Path:
    """Save member ``index`` of a saved average (``training.network.build_ensemble``) alone: its .h5 path."""
    import keras

    path = Path(work_dir) / f"member-{index}" / KERAS_MODEL_PATH.name
    path.parent.mkdir(parents=True, exist_ok=True)
    keras.models.load_model(teacher_path, compile=False).get_layer(f"member_{index}").save(
        path, include_optimizer=False
    )
    return path
