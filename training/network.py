"""The digit network: the Keras CNN, the average of several, and the defaults they are trained with.

Input contract of every model built here (``recognizer.mnist``):
    (N, 28, 28, 1) float32 in [0, 1], ink = 1 and background = 0 (MNIST polarity).
Output: (N, 11) float32 probabilities (softmax): the digits 0..9 and "not a digit" (column 10).
Keras is imported inside the builders, so reading the constants costs nothing.
"""

from __future__ import annotations

from recognizer.mnist import INPUT_SHAPE, MODEL_NAME, NUM_CLASSES

HISTORY_FILENAME = "training_history.json"

# Defaults of `model.py train` (the shipped network came from a chain of runs: docs/MODEL_CARD_digits.md).
SEED = 20261121
EPOCHS = 30
BATCH_SIZE = 128
VALIDATION_SIZE = 5_000  # taken from the 60,000 training images, never from the test set
LEARNING_RATE = 2e-3
EXTRA_SCALE = 1.0  # the extra training set's size, a multiple of training.extra.EXTRA_COUNTS (0 = MNIST alone)
MEMBERS = 1  # networks averaged in the shipped model (see build_ensemble); seeds SEED, SEED + 1, ...


def build_model():
    """Build the CNN (uncompiled): input (N, 28, 28, 1) float32 in [0, 1], output (N, 11) probabilities.

    Two VGG-style blocks of 3x3 convolutions with batch normalisation, then a dense head with
    dropout: the family that reaches 99.6-99.7% on MNIST with augmentation (e.g. Deotte, "How to
    choose CNN architecture MNIST", Kaggle 2018), small enough to train on 2 CPU cores.
    """
    import keras
    from keras import layers

    def conv_bn(filters):
        # Bias is redundant before batch normalisation.
        return [layers.Conv2D(filters, 3, use_bias=False), layers.BatchNormalization(), layers.ReLU()]

    return keras.Sequential(
        [
            keras.Input(shape=INPUT_SHAPE),
            *conv_bn(32),  # (B, 26, 26, 32)
            *conv_bn(32),  # (B, 24, 24, 32)
            layers.MaxPooling2D(),  # (B, 12, 12, 32)
            layers.Dropout(0.2),
            *conv_bn(64),  # (B, 10, 10, 64)
            *conv_bn(64),  # (B, 8, 8, 64)
            layers.MaxPooling2D(),  # (B, 4, 4, 64)
            layers.Dropout(0.25),
            layers.Flatten(),  # (B, 1024)
            layers.Dense(256, use_bias=False),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.Dropout(0.4),
            layers.Dense(NUM_CLASSES, activation="softmax"),  # (B, 11): digits 0..9 and "not a digit"
        ],
        name=MODEL_NAME,
    )


def build_ensemble(members: list):
    """Average the probabilities of several trained CNNs in one Keras model, same input and output.

    ``members``: Keras models with the input contract above. The average of members trained from
    different seeds is a better and better-calibrated classifier than any one of them; in LiteRT
    each member costs about 0.1 ms. A single member is returned unchanged.
    """
    import keras

    if len(members) == 1:
        return members[0]
    inputs = keras.Input(shape=INPUT_SHAPE)
    for i, member in enumerate(members):
        member.name = f"member_{i}"
    outputs = keras.layers.Average()([member(inputs) for member in members])  # (B, 11)
    return keras.Model(inputs, outputs, name=MODEL_NAME)
