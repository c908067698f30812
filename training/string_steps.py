"""One training step of the string reader on either Keras backend, and the reader's probabilities from Keras.

The loss is CTC (Graves et al., 2006) over the alphabet and a blank; lines labelled with their digits only (the
real cheque amounts) are scored with the separators merged into the blank (``merged_log_probs``). TensorFlow
trains in place; JAX (a lent GPU machine, which has no TensorFlow) trains a jitted, stateless copy of the
variables that ``finish`` writes back.
"""

from __future__ import annotations

import numpy as np

from recognizer.ctc import BLANK
from recognizer.line import LINE_HEIGHT
from recognizer.mnist import NUM_DIGITS

JAX_WIDTH_STEP = 64  # px: on JAX, batches are padded to a multiple of this width (fewer shapes to compile)
JAX_TARGET_LENGTH = 24  # characters: on JAX, targets are padded to this length (synthetic texts have at most 12)


def training_step(model, optimizer):
    """The step for this process's Keras backend: (step, finish), as ``tensorflow_step`` or ``jax_step``."""
    import keras

    return (jax_step if keras.backend.backend() == "jax" else tensorflow_step)(model, optimizer)


def keras_probabilities(model, lines) -> np.ndarray:
    """The reader's Keras model as the served LiteRT file is: (B, 32, W, 1) lines -> (B, W/4, classes) float32
    probabilities, any backend."""
    import keras

    return keras.ops.convert_to_numpy(keras.ops.softmax(model(lines, training=False)))


def merged_log_probs(logits):
    """Log-probabilities with the separators' mass added to the blank's: (B, T, NUM_DIGITS + 1), blank last.

    For lines labelled with their digits only (ORAND-CAR's amounts): reading a written "." as "." or as
    nothing costs the same. Any Keras backend."""
    from keras import ops

    log_probs = ops.log_softmax(logits, axis=-1)
    rest = ops.logsumexp(log_probs[..., NUM_DIGITS:], axis=-1, keepdims=True)
    return ops.concatenate([log_probs[..., :NUM_DIGITS], rest], axis=-1)


def tensorflow_step(model, optimizer):
    """One training step on TensorFlow: (x, targets, target_lengths, frames, digits_only) -> mean CTC loss.
    Returns (step, finish); finish does nothing (the variables are trained in place)."""
    import tensorflow as tf

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, LINE_HEIGHT, None, 1]),
            tf.TensorSpec([None, None], tf.int32),
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([None], tf.bool),
        ]
    )
    def step(x, targets, target_lengths, frames, digits_only):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            full = tf.nn.ctc_loss(targets, logits, target_lengths, frames, logits_time_major=False, blank_index=BLANK)
            merged = tf.nn.ctc_loss(
                targets,
                merged_log_probs(logits),
                target_lengths,
                frames,
                logits_time_major=False,
                blank_index=NUM_DIGITS,
            )
            loss = tf.reduce_mean(tf.where(digits_only, merged, full))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return step, lambda: None


def jax_step(model, optimizer):
    """The same step on JAX (a GPU machine), compiled once per batch shape: widths are padded to a multiple of
    ``JAX_WIDTH_STEP`` and targets to ``JAX_TARGET_LENGTH`` to keep the shapes few. Returns (step, finish); finish
    writes the trained state back into the model's and the optimizer's variables."""
    import jax
    from keras import ops

    optimizer.build(model.trainable_variables)
    state = [
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
        [v.value for v in optimizer.variables],
    ]

    def loss_fn(trainable, non_trainable, x, targets, target_lengths, frames, digits_only):
        logits, non_trainable = model.stateless_call(trainable, non_trainable, x, training=True)
        full = ops.ctc_loss(targets, logits, target_lengths, frames, mask_index=BLANK)
        merged = ops.ctc_loss(targets, merged_log_probs(logits), target_lengths, frames, mask_index=NUM_DIGITS)
        return ops.mean(ops.where(digits_only, merged, full)), non_trainable

    gradient = jax.value_and_grad(loss_fn, has_aux=True)

    @jax.jit
    def update(state, x, targets, target_lengths, frames, digits_only):
        trainable, non_trainable, optimizer_variables = state
        (loss, non_trainable), grads = gradient(
            trainable, non_trainable, x, targets, target_lengths, frames, digits_only
        )
        trainable, optimizer_variables = optimizer.stateless_apply(optimizer_variables, grads, trainable)
        return loss, [trainable, non_trainable, optimizer_variables]

    def step(x, targets, target_lengths, frames, digits_only):
        width = -(-x.shape[2] // JAX_WIDTH_STEP) * JAX_WIDTH_STEP
        x = np.pad(x, ((0, 0), (0, 0), (0, width - x.shape[2]), (0, 0)))
        targets = np.pad(targets, ((0, 0), (0, max(0, JAX_TARGET_LENGTH - targets.shape[1]))))
        loss, state[:] = update(state, x, targets, target_lengths, frames, digits_only)
        return loss

    def finish():
        for variables, values in zip(
            (model.trainable_variables, model.non_trainable_variables, optimizer.variables), state
        ):
            for variable, value in zip(variables, values):
                variable.assign(value)

    return step, finish
