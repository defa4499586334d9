"""Exceptions raised for bad user input. Every message says what was wrong and what is allowed."""


class FormatError(ValueError):
    """Unknown format name, option the format does not take, or group size it does not allow."""


class InputError(ValueError):
    """Input values the library cannot quantize (NaN/Inf, empty, wrong shape, out of range)."""


class InputTypeError(TypeError):
    """Input of a dtype the library cannot quantize (integers, complex, objects, ...)."""
