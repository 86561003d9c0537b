"""The TFX components of bit-tfx, one folder each (spec, executor, driver), and the reader of
StatisticsGen's artifacts they share. They read bit_tfx.core (keys, errors, the HyperRule and
its Decision) and nothing else of ours; the model code (bit_tfx.models) runs inside the Transform
and Trainer components by import path, so no component imports it.

Importing bit_tfx.core first sets the environment TensorFlow reads (its docstring).
"""
from .. import core  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
