"""The one exception type for bad input: a setting, a file or data that cannot be used.

Entry points catch it and print its message without a traceback; anything else is a bug and keeps
its traceback.
"""


class InputError(ValueError):
    """A setting, file or data set that the project cannot use.

    The message names the setting or file, what was expected and what was found.
    """
