"""Errors for requests the hardware models cannot satisfy (no decoder for a format, impossible widths,
no RTL for a kind). All are ValueError subclasses whose message says what was asked, why it cannot be
built, and what would work instead. Neutral: imported by hwsim, rtl_gen and testbenches alike."""


class RTLError(ValueError):
    """A request the RTL generators cannot satisfy."""


class NoDecoderError(RTLError):
    """A number format that has no hardware decoder (Inf codes, too wide, too large a table, ...)."""


class WidthError(RTLError):
    """An impossible or unsupported bit width (accumulator narrower than one product, > 64 bits, ...)."""


class UnsupportedKindError(RTLError):
    """A design kind (or option) for which no RTL generator exists yet."""
