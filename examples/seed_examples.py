"""The three losses of "Why does a custom loss function in Keras cause high MSE and output offset?".

Run `lossguard examples/`: example 1 is LL108, example 2 is LL201, example 3 (Huber) is clean.
"""

import tensorflow as tf


# Example 1: the log of the absolute error. As the error shrinks, log(|e| + 1e-9) goes to
# -20.7; the optimizer is rewarded for fitting a few points exactly and ignores the rest.
def log_error_loss(y_true, y_pred):
    return tf.math.log(tf.math.abs(y_true - y_pred) + 1e-9)


# Example 2: an MSE whose hand-written gradient is computed and thrown away.
def mse_loss_with_manual_gradient(y_true, y_pred):
    loss = tf.reduce_mean(tf.square(y_true - y_pred))
    grad = tf.reduce_mean(y_true - y_pred)
    return loss


# Example 3: Huber loss, written correctly.
def huber_loss(y_true, y_pred):
    delta = 1.0
    error = y_true - y_pred
    is_small = tf.abs(error) <= delta
    squared = 0.5 * tf.square(error)
    linear = delta * (tf.abs(error) - 0.5 * delta)
    return tf.reduce_mean(tf.where(is_small, squared, linear), axis=-1)


def build_model(loss=log_error_loss):
    model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss=loss)
    return model
