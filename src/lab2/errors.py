"""The one exception type for bad input: a setting, a file or data that cannot be used.

Entry points catch it and print its message without a traceback; anything else is a bug and keeps
its traceback.
"""


class InputError(ValueError):
    """A setting, file or data set that the project cannot use.

    The message names the setting or file, what was expected and what was found.
    """


def is_number(value: object) -> bool:
    """Whether a setting is a real number (an int or a float, not a bool, a string or null),
    so that a check can compare it and a bad value gets an :class:`InputError`, not a
    ``TypeError``."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)
