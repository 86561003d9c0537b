"""The one error type for invalid input or configuration (pure Python, no TensorFlow).

Every message names the field or file and says what to do. The CLI turns these into
exit code 2 before any pipeline work starts.
"""


class ConfigError(ValueError):
    """An invalid configuration or input, detected before (or instead of) doing work."""
