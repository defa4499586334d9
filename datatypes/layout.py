"""How a row of elements splits into quantization groups (a leaf module: formats and tensors both use it)."""

from __future__ import annotations


def group_layout(row_len: int, group_size: int | None) -> tuple[int, int]:
    """(effective group length, groups per row) for rows of ``row_len`` elements."""
    g = row_len if group_size is None or group_size >= row_len else group_size
    return g, -(-row_len // g)
