"""More losses people write, some wrong, some right."""

import tensorflow as tf
from tensorflow.keras import backend as K


# A dice loss with no smoothing term: 0 / 0 = NaN on an image with no foreground.
def dice_loss(y_true, y_pred):
    intersection = K.sum(y_true * y_pred)
    return 1.0 - 2.0 * intersection / (K.sum(y_true) + K.sum(y_pred))


# The same loss with a smoothing term: fine.
def smooth_dice_loss(y_true, y_pred, smooth=1.0):
    intersection = K.sum(y_true * y_pred)
    return 1.0 - (2.0 * intersection + smooth) / (K.sum(y_true) + K.sum(y_pred) + smooth)


# A hand-written cross-entropy: log(0) = -inf when the model is confidently wrong.
def crossentropy_by_hand(y_true, y_pred):
    return -tf.reduce_sum(y_true * tf.math.log(y_pred), axis=-1)


# The guarded version Keras itself uses.
def clipped_crossentropy(y_true, y_pred):
    y_pred = tf.clip_by_value(y_pred, K.epsilon(), 1.0 - K.epsilon())
    return -tf.reduce_sum(y_true * tf.math.log(y_pred), axis=-1)
