"""The format contract shared by every number format: validation, grouping, the quantize template.

A format quantizes along the last axis in groups of ``group_size`` elements (``None``: one group per
row; a group size at least the row length also gives one group per row; a row length that is not a
multiple of the group size leaves a smaller tail group, as the reference ``quant_weight`` does).

Subclasses implement ``_quantize2d`` and ``_dequantize2d`` on a C-contiguous 2-D float array (rows x
elements) and ``code_values`` (the exact decoded value of every code under a metadata value).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .errors import FormatError, InputError, InputTypeError
from .layout import group_layout  # noqa: F401  (re-exported: datatypes.group_layout)

if TYPE_CHECKING:
    from .qtensor import QuantizedTensor

#: Sentinel for "use the format's default group size".
DEFAULT = object()

_ML_DTYPES_FLOATS = {
    "bfloat16", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz",
    "float8_e4m3b11fnuz", "float8_e3m4", "float8_e4m3", "float8_e8m0fnu", "float6_e2m3fn",
    "float6_e3m2fn", "float4_e2m1fn",
}


def as_float_array(x: Any, *, what: str = "x") -> np.ndarray:
    """Validate ``x`` as a non-empty, finite, real floating-point array of at least one dimension.

    Returns the array (not yet converted); raises InputTypeError / InputError with a usable message.
    """
    if isinstance(x, (str, bytes)):
        raise InputTypeError(f"{what} must be an array of real floating-point values, not {type(x).__name__}")
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as e:       # ragged nested lists, objects numpy cannot hold
        raise InputError(f"{what} is not a rectangular array of numbers ({str(e).splitlines()[0][:120]})") from None
    kind = arr.dtype.kind
    if kind in "iub":
        raise InputTypeError(
            f"{what} has integer/bool dtype {arr.dtype}; quantize() takes real floating-point values "
            f"(if the integers are the values, pass x.astype(np.float32))")
    if kind == "c":
        raise InputTypeError(f"{what} has complex dtype {arr.dtype}; only real values can be quantized")
    if kind == "V" and arr.dtype.name in _ML_DTYPES_FLOATS:
        arr = arr.astype(np.float32)
    elif kind != "f":
        raise InputTypeError(f"{what} has dtype {arr.dtype}; expected float16, float32 or float64 (or bfloat16)")
    if arr.ndim == 0:
        raise InputError(f"{what} is a scalar; quantize() needs an array with at least one axis (groups run along the last)")
    if arr.size == 0:
        raise InputError(f"{what} is empty (shape {arr.shape}); there is nothing to quantize")
    # fast path: a finite sum means every element is finite (NaN and +-Inf propagate; a sum that
    # overflows only sends us to the exact check)
    with np.errstate(over="ignore", invalid="ignore"):
        quick = np.isfinite(np.add.reduce(arr, axis=None))
    if quick:
        return arr
    finite = np.isfinite(arr)
    if not finite.all():
        bad = np.argwhere(~finite)
        first = tuple(int(i) for i in bad[0])
        raise InputError(
            f"{what} contains {len(bad)} non-finite value(s) (NaN or Inf), first at index {first} "
            f"= {arr[first]!r}; quantization needs finite values")
    return arr


def unique_levels(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values of a 1-D array, as ``np.unique`` returns them (the same sort, the same
    neighbour test, so -0.0 vs +0.0 resolve alike). numpy 2's ``np.unique`` imports ``numpy.ma`` on first
    use (~8 ms); formats build their level tables when ``datatypes`` is imported, so they use this."""
    v = np.sort(np.asarray(values).ravel())
    if v.size == 0:
        return v
    keep = np.empty(v.size, bool)
    keep[0] = True
    np.not_equal(v[1:], v[:-1], out=keep[1:])
    return v[keep]


def check_group_size(group_size: Any, fmt: "Format") -> int | None:
    if group_size is DEFAULT:
        return fmt.default_group_size
    if group_size is None:
        if fmt.group_sizes is not None and None not in fmt.group_sizes:
            raise FormatError(f"format {fmt.name!r} needs a group size: allowed {_fmt_sizes(fmt.group_sizes)}")
        return None
    if isinstance(group_size, bool) or not isinstance(group_size, (int, np.integer)):
        raise FormatError(f"group_size must be a positive integer or None (one group per row), got {group_size!r}")
    group_size = int(group_size)
    if group_size <= 0:
        raise FormatError(f"group_size must be a positive integer or None (one group per row), got {group_size}")
    if fmt.group_sizes is not None and group_size not in fmt.group_sizes:
        raise FormatError(f"format {fmt.name!r} does not allow group_size={group_size}: allowed {_fmt_sizes(fmt.group_sizes)}")
    return group_size


def _fmt_sizes(sizes) -> str:
    return ", ".join("None (per row)" if s is None else str(s) for s in sizes)


def exact_fixed_point(values: Any) -> tuple[list[int], int]:
    """Write finite float values as integers times one power of two: ``value == int * 2**-frac_bits``.

    Returns ``(ints, frac_bits)`` with the smallest ``frac_bits >= 0`` that makes every value an
    integer (Python ints, so nothing can overflow); NaN entries give 0. This is the exact
    fixed-point form an RTL decoder outputs.
    """
    vals = [float(v) for v in np.asarray(values, dtype=np.float64).ravel()]
    ratios = [v.as_integer_ratio() if math.isfinite(v) else (0, 1) for v in vals]
    frac = max((d.bit_length() - 1 for _, d in ratios), default=0)
    return [n << (frac - (d.bit_length() - 1)) for n, d in ratios], frac


class Format:
    """A number format. Subclasses set the class/instance attributes below and implement the kernels.

    Attributes (all public, all documented in ``hwsim formats``):
      name, bits, family, description: identity.
      levels: ascending representable values in scale units, where the format has a table (else None).
      rounding, ties, overflow, scale_rule: the exact rules, in words.
      default_group_size / group_sizes: default and allowed group sizes (None in the set = per row).
      options: option name -> default value accepted by ``quantize``.
      output_dtype: dtype the reference produces on dequantization ("float32", "float16", "bfloat16";
        bfloat16 results are returned as float32 arrays holding bfloat16-representable values).
      scale_bits, meta_bits, tensor_scale_bits: storage per group / per tensor, for bits-per-element.
    """

    family: ClassVar[str] = "abstract"
    name: str
    bits: int
    description: str = ""
    levels: np.ndarray | None = None
    rounding: str = ""
    ties: str = ""
    overflow: str = ""
    scale_rule: str = ""
    default_group_size: int | None = 128
    group_sizes: tuple | None = None
    options: dict[str, Any] = {}
    output_dtype: str = "float32"
    scale_bits: int = 32
    meta_bits: int = 0
    tensor_scale_bits: int = 0
    n_meta: int = 1  # number of distinct metadata values code_values() can be asked for

    # ---- public -------------------------------------------------------------------------------
    def quantize(self, x: Any, group_size: Any = DEFAULT, **options: Any) -> "QuantizedTensor":
        from .qtensor import QuantizedTensor

        opts = self.check_options(options)
        g = check_group_size(group_size, self)
        arr = as_float_array(x)
        arr = self._prepare_input_opts(arr, opts)
        shape = arr.shape
        x2 = np.ascontiguousarray(arr.reshape(-1, shape[-1]))
        geff, _ = group_layout(shape[-1], g)
        res = self._quantize2d_checked(x, shape, x2, geff, opts)
        codes, scales, meta, tscale = res[:4]
        extras = dict(res[4]) if len(res) > 4 else {}
        negz = extras.pop("negative_zeros", None)
        if negz is None:
            negz = self._negative_zeros(x2, geff, codes, scales, meta, opts)
        if negz is not None and not negz.any():
            negz = None
        lead = shape[:-1]
        return QuantizedTensor(
            negative_zeros=None if negz is None else negz.reshape(shape),
            format=self, codes=codes.reshape(shape),
            scales=None if scales is None else scales.reshape(lead + scales.shape[-1:]),
            meta=None if meta is None else meta.reshape(lead + meta.shape[-1:]),
            group_size=g, tensor_scale=tscale, options=opts,
            extras={k: v.reshape(lead + v.shape[1:]) if isinstance(v, np.ndarray) else v
                    for k, v in extras.items()})

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            allowed = ", ".join(f"{k}={v!r}" for k, v in self.options.items()) or "none"
            raise FormatError(f"format {self.name!r} does not take option(s) {', '.join(unknown)}; it takes: {allowed}")
        opts = dict(self.options)
        opts.update(options)
        self._validate_options(opts)
        return opts

    def code_values(self, meta: int = 0) -> np.ndarray:
        """Exact decoded value (scale units, float64) of every code ``0 .. 2**bits-1`` under group
        metadata value ``meta``, as the reference's dequantization uses it (so a float32-arithmetic
        reference gives float32 values); NaN marks a code the format never produces or that decodes
        to NaN. This is the decode hardware performs (see ``exact_fixed_point``)."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name, "bits": self.bits, "family": self.family, "description": self.description,
            "levels": None if self.levels is None else [float(v) for v in self.levels],
            "rounding": self.rounding, "ties": self.ties, "overflow": self.overflow,
            "scale": self.scale_rule, "default_group_size": self.default_group_size,
            "options": dict(self.options), "output_dtype": self.output_dtype,
        }

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}: {self.bits}-bit {self.family}>"

    def storage_bits(self, opts: dict[str, Any]) -> tuple[int, int, int]:
        """Bits stored per group scale, per group metadata value and per tensor-level scale value
        under options ``opts`` (default: the class attributes; a format whose scale encoding
        depends on an option overrides this)."""
        return self.scale_bits, self.meta_bits, self.tensor_scale_bits

    def pack_group_data(self, scales: np.ndarray | None, meta: np.ndarray | None,
                        opts: dict[str, Any]) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Memory image of the per-group scales and metadata, as the RTL reads them next to the
        packed codes (default: as stored). A format that hides its metadata in spare scale bits
        returns ``(scale_words, None)``."""
        return scales, meta

    def unpack_group_data(self, scales: np.ndarray | None, meta: np.ndarray | None,
                          opts: dict[str, Any]) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Inverse of :meth:`pack_group_data`."""
        return scales, meta

    def _quantize2d_checked(self, x: Any, shape: tuple, x2: np.ndarray, g: int, opts: dict[str, Any]):
        """``_quantize2d`` between two checks: the input converted to the compute dtype is finite (a
        float64 value beyond the float32 range becomes inf there), and the result is finite (near
        the top of that range a format's scale or range arithmetic can overflow): an InputError
        saying so instead of inf scales or NaN outputs. The result is dequantized for the check only
        when max |x| is within 2**8 of the dtype's maximum (or a scale is not finite)."""
        hi, lo = x2.max(), x2.min()
        if not (np.isfinite(hi) and np.isfinite(lo)):
            bad = np.flatnonzero(~np.isfinite(x2))
            first = tuple(int(i) for i in np.unravel_index(int(bad[0]), shape))
            value = np.asarray(x).reshape(-1)[int(bad[0])] if np.size(x) == x2.size else x2.flat[int(bad[0])]
            raise InputError(
                f"x: {len(bad)} value(s) beyond the {x2.dtype} range of format {self.name!r} (|x| <= "
                f"{float(np.finfo(x2.dtype).max):.7g}), first at index {first} = {float(value):.6g}; scale "
                f"the tensor down")
        res = self._quantize2d(x2, g, opts)
        amax = max(abs(float(hi)), abs(float(lo)))
        top = min(float(np.finfo(x2.dtype).max), float(np.finfo(_OUTPUT_DTYPES.get(self.output_dtype, x2.dtype)).max))
        bad_scale = _nonfinite(res[1]) or _nonfinite(res[3])
        tiny_scale = _subnormal(res[1]) or _subnormal(res[3])
        big = amax > top * 2.0 ** -8
        if bad_scale or tiny_scale or big:
            from .qtensor import QuantizedTensor

            lead = shape[:-1]
            scales, meta = res[1], res[2]
            q = QuantizedTensor(format=self, codes=res[0].reshape(shape),
                                scales=None if scales is None else scales.reshape(lead + scales.shape[-1:]),
                                meta=None if meta is None else meta.reshape(lead + meta.shape[-1:]),
                                group_size=g, tensor_scale=res[3], options=opts)
            with np.errstate(all="ignore"):
                out = None if bad_scale else q.dequantize()
            if bad_scale or (not np.isfinite(out).all() and not self._overflow_is_nonfinite(opts)):
                why = (f"max |x| = {amax:.6g} is too close to the top of the range ({top:.6g})" if big else
                       "a group scale is subnormal (a group's values are all below ~1e-38)")
                raise InputError(
                    f"x: format {self.name!r} cannot quantize these values: its "
                    f"{'scales' if bad_scale else 'reconstruction'} would hold inf/NaN; {why}")
        return res

    # ---- for subclasses ----------------------------------------------------------------------
    def _overflow_is_nonfinite(self, opts: dict[str, Any]) -> bool:
        """Whether the format's own overflow rule maps values above its range to Inf/NaN codes (as the
        reference cast does, e.g. ml_dtypes' float8_e4m3fn -> NaN): then a non-finite reconstruction
        is the format's answer, not a failure to report."""
        return False

    def _validate_options(self, opts: dict[str, Any]) -> None:
        """Raise FormatError for option values the format cannot take."""

    def _prepare_input_opts(self, arr: np.ndarray, opts: dict[str, Any]) -> np.ndarray:
        """Like :meth:`_prepare_input`, for a format whose compute dtype is an option."""
        return self._prepare_input(arr)

    def _prepare_input(self, arr: np.ndarray) -> np.ndarray:
        """Convert validated input to the dtype the reference computes in (default float32)."""
        return arr.astype(np.float32, copy=False)

    def _negative_zeros(self, x: np.ndarray, g: int, codes: np.ndarray, scales, meta, opts: dict[str, Any]):
        """For a format whose codes cannot hold -0 (integers, RaZeR's single zero code): a bool
        array [R, C], True where the reference's reconstruction is -0.0 (None: never, or the code
        itself carries the sign). Only ``QuantizedTensor.dequantize()`` uses it; the memory image
        and the hardware decoders have one zero, +0."""
        return None

    def _quantize2d(self, x: np.ndarray, g: int, opts: dict[str, Any]):
        """Return (codes uint8 [R, C], scales [R, G] or None, meta [R, G] or None, tensor_scale),
        optionally with a fifth item: a dict of extras (arrays with R leading rows), e.g.
        "negative_zeros" (bool [R, C], see _negative_zeros) or "candidate_mse" ([R, G, n])."""
        raise NotImplementedError

    def _dequantize2d(self, codes, scales, meta, g: int, tensor_scale, opts) -> np.ndarray:
        raise NotImplementedError


_OUTPUT_DTYPES = {"float16": np.float16, "float32": np.float32, "bfloat16": np.float32}


def _subnormal(a: Any) -> bool:
    """True for a float scale (array or number) with a subnormal value (0 < |s| < 2**-126)."""
    if a is None:
        return False
    arr = np.abs(np.asarray(a))
    return arr.dtype.kind == "f" and bool(((arr > 0) & (arr < np.finfo(np.float32).tiny)).any())


def _nonfinite(a: Any) -> bool:
    """True for a float scale (array or number) that holds inf or NaN."""
    if a is None:
        return False
    arr = np.asarray(a)
    return arr.dtype.kind == "f" and not np.isfinite(arr).all()


def per_element(group_values: np.ndarray, g: int, cols: int) -> np.ndarray:
    """Per-group values [R, G] broadcast to the elements [R, cols] of groups of ``g``."""
    return np.repeat(group_values, g, axis=1)[:, :cols]


def check_choice(fmt: Format, opts: dict, key: str, allowed: tuple) -> None:
    if opts[key] not in allowed:
        raise FormatError(f"format {fmt.name!r}: option {key}={opts[key]!r} is not one of {', '.join(map(repr, allowed))}")


def check_quantile(fmt: Format, opts: dict) -> None:
    q = opts.get("quantile", 1.0)
    if isinstance(q, bool) or not isinstance(q, (int, float, np.floating, np.integer)) or not (0.0 < float(q) <= 1.0):
        raise FormatError(f"format {fmt.name!r}: option quantile={q!r} must be a clip ratio in (0, 1]")
