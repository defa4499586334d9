"""The RTL generators' errors (defined in hwsim.errors, shared with the simulators) and a helper for
component constructors."""

import functools

from hwsim.errors import NoDecoderError, RTLError, UnsupportedKindError, WidthError

__all__ = ["NoDecoderError", "RTLError", "UnsupportedKindError", "WidthError", "discard_on_error"]


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
