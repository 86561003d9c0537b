"""The HyperRule learning rate as a Keras schedule, equal to rule.learning_rate at every step.

Linear warmup from exactly 0, then base / 10**k with k the number of boundaries strictly
below the step. (Keras' PiecewiseConstantDecay switches *after* a boundary too, but has no
warmup; one small schedule keeps both in one place.)
"""
import tensorflow as tf
import tf_keras as keras


class HyperRuleSchedule(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, base_lr, warmup_steps, decay_boundaries, total_steps):
        self.base_lr = float(base_lr)
        self.warmup_steps = int(warmup_steps)
        self.decay_boundaries = [int(b) for b in decay_boundaries]
        self.total_steps = int(total_steps)

    @classmethod
    def from_decision(cls, decision):
        return cls(decision.learning_rate, decision.warmup_steps, decision.decay_boundaries,
                   decision.total_steps)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        base = tf.constant(self.base_lr, tf.float32)
        warm = base * step / max(self.warmup_steps, 1) if self.warmup_steps else base
        k = tf.add_n([tf.cast(step > b, tf.float32) for b in self.decay_boundaries]) \
            if self.decay_boundaries else tf.constant(0.0)
        decayed = base * tf.pow(tf.constant(0.1, tf.float32), k)
        return tf.where(step < self.warmup_steps, warm, decayed)

    def get_config(self):
        return {"base_lr": self.base_lr, "warmup_steps": self.warmup_steps,
                "decay_boundaries": self.decay_boundaries, "total_steps": self.total_steps}
