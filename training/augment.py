"""Augmentation: random pen widths and affine maps that make MNIST look like real drawings, in ``keras.ops``."""

from __future__ import annotations

import numpy as np

from recognizer.mnist import IMAGE_SIZE


def augment(images, seed=None):
    """Randomly distort a batch the way real drawings differ from MNIST, in ``keras.ops`` (any backend).

    ``images``: (B, 28, 28, 1) float32 in [0, 1], ink = 1. Returns the same shape and range.
    ``seed``: a ``keras.random.SeedGenerator`` (or int) for the random draws.
    - Stroke thickness: a quarter of the batch is dilated with a 3x3 max filter (thicker pen), a tenth
      eroded with a 2x2 min filter (thinner pen), as canvas strokes are rarely MNIST's width.
    - One random affine map per image about the centre: rotation within +-12 degrees, shear
      within +-0.15, scale 0.9-1.1 per axis, shift within +-2 px (the digit stays centred by mass
      in serving, so shifts are small).
    """
    import keras
    from keras import ops

    batch = ops.shape(images)[0]

    def uniform(shape, low=0.0, high=1.0):
        return keras.random.uniform(shape, low, high, seed=seed)

    thicker = ops.max_pool(images, pool_size=3, strides=1, padding="same")
    thinner = -ops.max_pool(-images, pool_size=2, strides=1, padding="same")
    pick = uniform((batch, 1, 1, 1))
    images = ops.where(pick < 0.25, thicker, ops.where(pick < 0.35, thinner, images))

    angle = uniform((batch,), -12.0, 12.0) * (np.pi / 180.0)
    shear = uniform((batch,), -0.15, 0.15)
    scale_x = uniform((batch,), 0.9, 1.1)
    scale_y = uniform((batch,), 0.9, 1.1)
    shift_x = uniform((batch,), -2.0, 2.0)
    shift_y = uniform((batch,), -2.0, 2.0)
    cos, sin = ops.cos(angle), ops.sin(angle)
    # Inverse of (rotate . shear . scale): map each output pixel back to where it samples from.
    a0 = cos / scale_x
    a1 = (sin + shear * cos) / scale_x
    b0 = -sin / scale_y
    b1 = (cos - shear * sin) / scale_y
    centre = (IMAGE_SIZE - 1) / 2.0
    a2 = centre - a0 * centre - a1 * centre - shift_x
    b2 = centre - b0 * centre - b1 * centre - shift_y
    zeros = ops.zeros_like(angle)
    transforms = ops.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    images = ops.image.affine_transform(
        images, transforms, interpolation="bilinear", fill_mode="constant", fill_value=0.0, data_format="channels_last"
    )
    return ops.clip(images, 0.0, 1.0)


def augmentation_layer(seed: int):
    """Return a Keras layer that applies ``augment`` in training and passes images through otherwise."""
    import keras

    class Augment(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = keras.random.SeedGenerator(seed)

        def call(self, images, training=None):
            return augment(images, self.seed_generator) if training else images

    return Augment(name="augment")
