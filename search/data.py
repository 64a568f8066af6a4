"""Images in, as the searched networks see them: one preprocessing for training, search,
calibration and deployment.

A network of the search space takes float images of `resolution` x `resolution` x `channels`
with values in [0, 1]. `preprocess` makes them from what users have: uint8 images (scaled by
1/255) or float images already in [0, 1], any size (bilinearly resized), grey or colour (grey
replicated to three channels, colour averaged to grey by luminance), with or without a channel
axis. The int8 model quantizes that range as uint8 pixels shifted by 128 (scale 1/255, zero
point -128), so on the microcontroller a camera's pixel p goes in as p - 128.
"""
from __future__ import annotations

import numpy as np

__all__ = ["preprocess", "image_dataset", "as_arrays"]


def _tf():
    from ..quiet_tf import import_tf

    return import_tf()


def preprocess(images, resolution: int, channels: int):
    """Float32 images in [0, 1] at `resolution` with `channels` channels (a tensor), from a
    batch of uint8 or float images of shape (N, H, W) or (N, H, W, C)."""
    tf = _tf()
    x = tf.convert_to_tensor(images)
    if len(x.shape) == 3:
        x = x[..., None]
    if len(x.shape) != 4:
        raise ValueError(f"images must be a batch of shape (N, H, W) or (N, H, W, C), not "
                         f"{list(x.shape)}")
    x = tf.cast(x, tf.float32) / 255.0 if x.dtype == tf.uint8 else tf.cast(x, tf.float32)
    have = x.shape[-1]
    if have != channels:
        if have == 1 and channels == 3:
            x = tf.image.grayscale_to_rgb(x)
        elif have == 3 and channels == 1:
            x = tf.image.rgb_to_grayscale(x)
        else:
            raise ValueError(f"images have {have} channels; the network takes {channels} "
                             "(grey and colour convert into each other, nothing else does)")
    if x.shape[1] != resolution or x.shape[2] != resolution:
        x = tf.image.resize(x, (resolution, resolution))
    return x


def image_dataset(data, resolution: int, channels: int, *, batch_size: int = 128,
                  shuffle: bool = False, seed: int = 0, repeat: bool = False, augment=None):
    """A batched `tf.data.Dataset` of (images, labels) preprocessed for the network.

    `data`: a tuple (images, labels) of arrays, or a `tf.data.Dataset` of (images, labels),
    batched or not (images preprocessed per element). Labels are class indices (one-hot
    labels are turned into indices). `augment`: a function of a batch of prepared images
    (a Keras preprocessing model such as `keras.layers.RandomFlip("horizontal")`), applied
    after the preprocessing.
    """
    tf = _tf()
    import keras

    if isinstance(data, tf.data.Dataset):
        ds = data
        shape = ds.element_spec[0].shape
        batched = len(shape) == 4 or (len(shape) == 3 and (shape[0] is None
                                                            or shape[-1] not in (1, 3)))
        if not batched:  # single images, (H, W) or (H, W, C)
            ds = ds.batch(batch_size)
        if shuffle:
            ds = ds.shuffle(64, seed=seed)
    else:
        images, labels = _pair(data)
        ds = tf.data.Dataset.from_tensor_slices((images, labels))
        if shuffle:
            ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(batch_size)
    if repeat:
        ds = ds.repeat()

    def prepare(x, y):
        y = tf.convert_to_tensor(y)
        if len(y.shape) == 2 and y.shape[-1] != 1:
            y = tf.argmax(y, axis=-1)
        x = preprocess(x, resolution, channels)
        if augment is not None:  # a Keras layer augments only when told it is training
            x = augment(x, training=True) if isinstance(augment, keras.layers.Layer) \
                else augment(x)
        return x, tf.cast(tf.reshape(y, (-1,)), tf.int32)

    return ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _pair(data):
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise TypeError("data must be (images, labels) arrays or a tf.data.Dataset of "
                        f"(images, labels), not {type(data).__name__}")
    images, labels = np.asarray(data[0]), np.asarray(data[1])
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    if images.ndim not in (3, 4):
        raise ValueError(f"images must have shape (N, H, W) or (N, H, W, C), not "
                         f"{images.shape}")
    return images, labels


def as_arrays(data, resolution: int, channels: int, *, limit: int | None = None):
    """(images, labels) numpy arrays, preprocessed, from arrays or a dataset (`limit` first)."""
    xs, ys = [], []
    count = 0
    for x, y in image_dataset(data, resolution, channels, batch_size=256):
        xs.append(x.numpy())
        ys.append(y.numpy())
        count += len(xs[-1])
        if limit is not None and count >= limit:
            break
    x, y = np.concatenate(xs), np.concatenate(ys)
    return (x[:limit], y[:limit]) if limit is not None else (x, y)
