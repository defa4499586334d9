"""Errors raised before any RTL is generated or built. All are ValueError subclasses whose message
says what was asked, why it has no RTL, and what would work instead."""


import functools


def discard_on_error(init):
    """Decorator for component ``__init__``: if it raises, the half-built object is marked as
    deliberately unused, so Amaranth does not warn 'created but never used' for it."""

    @functools.wraps(init)
    def wrapper(self, *args, **kwargs):
        try:
            init(self, *args, **kwargs)
        except BaseException:
            self._MustUse__silence = True
            raise

    return wrapper


class RTLError(ValueError):
    """A request the RTL generators cannot satisfy."""


class NoDecoderError(RTLError):
    """A number format that has no hardware decoder (Inf codes, too wide, too large a table, ...)."""


class WidthError(RTLError):
    """An impossible or unsupported bit width (accumulator narrower than one product, > 64 bits, ...)."""


class UnsupportedKindError(RTLError):
    """A design kind (or option) for which no RTL generator exists yet."""
