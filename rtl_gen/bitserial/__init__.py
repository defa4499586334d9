"""Amaranth generators of the bit-serial PEs (BitVert, BitMoD) and their small arrays."""

from .bitvert import BitVertPE, BitVertArray
from .bitmod import BitModPE, BitModArray


def component(design):
    """The generated top of a ``kind: bitserial`` design: its array (rows x cols <= 4 x 4)."""
    a = design.array
    if a.pe == "bitvert":
        return BitVertArray(a.rows, a.cols)
    return BitModArray(a.rows, a.cols, group_size=design.weights.group_size, fmt=design.weights.format)


__all__ = ["BitVertPE", "BitVertArray", "BitModPE", "BitModArray", "component"]
