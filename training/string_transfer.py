"""The string reader on the digit network's convolutions: transfer learning from single digits to lines.

The line (``recognizer.line``: (32, W, 1), ink 28 px tall) is scaled by 3/4, so that its ink is about MNIST's
20 px box, and padded to 28 px; the convolutions, poolings and 256-unit dense layer of the digit network's first
member (``training.network.build_model``) read it, the dense layer applied as a 4x4 convolution, so each frame (every
16/3 px of the line) holds the digit network's features and logits of a 28 px window; frame j of the line's W/4
takes window floor(3j/4) (``TakeFrames``), and the reader's own 1-D convolutions and dense layer
(``training.strings.build_string_model``) read the frames into the same (B, W/4, 15) logits, so serving is
unchanged. Yosinski et al. ("How transferable are features in deep neural networks?", NeurIPS 2014): features
learnt on one task start another better than fresh weights; Keras' transfer-learning guide: train the new head on a
frozen base first, then the whole with a low learning rate, the base's batch normalisation kept in inference mode.
"""

from __future__ import annotations

from pathlib import Path

import keras
from keras import layers, ops

from recognizer.ctc import NUM_STRING_CLASSES
from recognizer.line import LINE_HEIGHT, LINE_STRIDE
from recognizer.mnist import IMAGE_SIZE

DIGIT_INK = 24  # px: the line scaled by 3/4 (ink 28 -> 21 px, MNIST's box is 20), padded to IMAGE_SIZE
FEATURES = 256  # the digit network's dense layer


@keras.saving.register_keras_serializable("digit_strings")
class TakeFrames(layers.Layer):
    """Frames (B, F, C) of the scaled line and the line (B, 32, W, 1) -> (B, W/4, C): frame j takes frame
    floor(3j/4), a window whose centre lies within 4 px of the line's column 4j + 2 (as the frames of
    ``training.strings.build_string_model``)."""

    def call(self, frames, line):
        index = (ops.arange(ops.shape(line)[2] // LINE_STRIDE) * 3) // 4
        return ops.take(frames, index, axis=1)

    def compute_output_shape(self, frames_shape, line_shape):
        return (frames_shape[0], None, frames_shape[2])


def build_transfer_model(digit_model: Path, frame_units: int = 192):
    """Build the reader (uncompiled) on ``digit_model``'s first member: (B, 32, W, 1) float32 in [0, 1] ->
    (B, W/4, NUM_STRING_CLASSES) logits, W a multiple of 4. The backbone's layers are ``model.backbone``.

    Raises OSError or ValueError where ``digit_model`` is not a saved digit network (``mnist_cnn.h5``)."""
    digits = keras.models.load_model(digit_model, compile=False)
    source = digits.get_layer("member_0") if any(lay.name == "member_0" for lay in digits.layers) else digits
    line = keras.Input(shape=(LINE_HEIGHT, None, 1), name="line")
    x = layers.UpSampling2D(3)(line)  # (B, 96, 3W, 1)
    x = layers.AveragePooling2D(4)(x)  # (B, 24, 3W/4, 1): a box filter, 3/4 of the size
    x = layers.Reshape((DIGIT_INK, -1, 1))(x)  # a static channel count for LiteRT's convolutions
    pad = (IMAGE_SIZE - DIGIT_INK) // 2
    x = layers.ZeroPadding2D(((pad, pad), (12, 16)))(x)  # (B, 28, 3W/4 + 28, 1): a frame for every column
    backbone, features = [], None
    for layer in source.layers:
        if isinstance(layer, (layers.Dropout, layers.Flatten)):
            continue
        weights = layer.get_weights()
        if isinstance(layer, layers.Dense) and weights[0].shape[1] == FEATURES:  # (4 * 4 * 64, 256): a 4x4 window
            new = layers.Conv2D(FEATURES, 4, use_bias=False, name="digit_dense")
            x = new(x)  # (B, 1, F, 256)
            weights = [weights[0].reshape(4, 4, -1, FEATURES)]
        elif isinstance(layer, layers.Dense):  # the 11 classes' logits, beside the features
            features = layers.Reshape((-1, FEATURES))(x)  # (B, F, 256)
            new = layers.Dense(weights[0].shape[1], name="digit_logits")
            x = layers.Concatenate()([features, new(features)])  # (B, F, 267)
        else:
            config = layer.get_config()
            new = layer.__class__.from_config({**config, "name": "digit_" + config["name"]})
            x = new(x)
        new.set_weights(weights)
        backbone.append(new)
    if features is None:
        raise ValueError(f"{digit_model} is not a digit network of training.network.build_model's shape")
    x = TakeFrames()(x, line)  # (B, W/4, 267)
    for dilation in (1, 2, 4):
        x = layers.Conv1D(frame_units, 3, padding="same", dilation_rate=dilation, use_bias=False)(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
    x = layers.Dropout(0.2)(x)
    logits = layers.Dense(NUM_STRING_CLASSES, name="logits")(x)  # (B, W/4, 15)
    model = keras.Model(line, logits, name="digit_strings")
    model.backbone = backbone
    return model


def freeze_backbone(model, frozen: bool) -> None:
    """Freeze the backbone (``frozen``) or let it train; its batch normalisation stays in inference mode either
    way: the statistics of a batch of lines, mostly background, are not those of centred digits."""
    for layer in model.backbone:
        layer.trainable = not frozen and not isinstance(layer, layers.BatchNormalization)


def build_two_streams(reader_path: Path, digit_model: Path, units: int = 96):
    """The reader of ``reader_path`` with the digit network's frames beside its own at its last layer: its 192 frame
    features and ``build_transfer_model``'s 267 (through a new 1-D convolution of ``units``) feed its dense layer
    widened to both, the new inputs' weights zero, so the model starts reading exactly as the reader does. The two
    streams are ``model.streams`` (freeze them with ``stream.trainable = False`` to train the new weights alone)."""
    reader = keras.models.load_model(reader_path, compile=False)
    transfer = build_transfer_model(digit_model)
    line = keras.Input(shape=(LINE_HEIGHT, None, 1), name="line")
    own = keras.Model(reader.input, reader.layers[-3].output, name="reader_frames")  # before dropout and logits
    digits = keras.Model(transfer.input, transfer.get_layer("take_frames").output, name="digit_frames")
    added = layers.Conv1D(units, 3, padding="same", activation="relu", name="digit_frames_read")(digits(line))
    x = layers.Dropout(0.2)(layers.Concatenate()([own(line), added]))  # (B, W/4, 192 + units)
    dense = layers.Dense(NUM_STRING_CLASSES, name="logits")
    model = keras.Model(line, dense(x), name="digit_strings")
    kernel, bias = reader.get_layer("logits").get_weights()
    dense.set_weights([ops.convert_to_numpy(ops.concatenate([kernel, ops.zeros((units, kernel.shape[1]))])), bias])
    model.streams = (own, digits)
    return model
