"""The one error type for invalid input or configuration (pure Python, no TensorFlow).

Every message names the field or file and says what to do. The CLI turns these into
exit code 2 before any pipeline work starts.

An error about one configuration field carries that field's name (`field`) and begins its
message with it ("split_ratio must be ..."), so that a face which knows how the user
spelled the field (the CLI: `--split-ratio`) can say it that way (`named`).
"""


class ConfigError(ValueError):
    """An invalid configuration or input, detected before (or instead of) doing work."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.field = field

    def named(self, name):
        """The message with its field spelled `name` (e.g. the flag a user typed)."""
        message = str(self)
        if self.field and message.startswith(self.field):
            return name + message[len(self.field):]
        return f"{name}: {message}"
