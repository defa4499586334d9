"""``--compat bitsim``: the published BitSim simulator's numbers (yc2367/BitSim 6845fad ``sim/``), exactly.

Designs: ``stripes``, ``bitvert`` (modes: no BBS = data-dependent unidirectional columns; BBS alone;
LSB pruning; outlier channels with eager compression (4 bits) or without (6 bits)), ``pragmatic``,
``bitlet``, ``bitwave`` (with or without bit flip; fixed or configurable dataflow). The per-tile
cycles of the data-dependent designs are computed from the INT8 weights, vectorised in NumPy over
all tiles at once, instead of BitSim's PyTorch loop over tiles. The rules (quirks included: float
cycles in outlier mode, the weight precision applied twice in BitVert/BitWave DRAM cycles, the
last layer writing no output, the model-name-dependent refetch, the -1 of an all-zero BitWave
tile) are in ``shared/spec/accelerators.md`` C.2b and ``docs/bitserial.md``; every float is
computed in the published code's order so results are bit-identical
(``tests/data/bitserial_reference.json``). SRAM energies come from ``cacti_28nm.json``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .compat_bitmod import CompatError, cacti_lookup

DESIGNS = ("stripes", "bitvert", "pragmatic", "bitlet", "bitwave")
_PR = 1.5
_DISP = 0.072625
#: PE energy, weight-register energy per row, activation-register energy per column (pJ, x1.5 P&R)
_ENERGY = {
    "stripes": (0.28125 * _PR, 0.46 * _PR, (0.53 + _DISP) * _PR),
    "bitvert": (0.25 * _PR, 1.205 * _PR, (1.06 + _DISP) * _PR),
    "pragmatic": (0.41375 * _PR, 0.763 * _PR, (0.53 + _DISP) * _PR),
    "bitlet": (0.2925 * _PR, 1.1325 * _PR, (1.054 + _DISP) * _PR),
    "bitwave": (0.2475 * _PR * 1.1, 0.06575 * _PR, None),
}
_CNN_REFETCH = ("vgg16", "resnet34", "resnet50")
_BITWAVE_DATAFLOWS = [(8, 32, 16), (16, 32, 8), (32, 32, 4), (128, 8, 1), (16, 64, 1), (32, 32, 1), (16, 1, 16)]


@dataclass(frozen=True)
class BitSimConfig:
    """A BitSim accelerator: ``Design(input_precision_s, input_precision_p, pe_dotprod_size,
    pe_array_dim, model_name, **options)`` as its ``test_*.py`` scripts build them."""
    design: str
    model_name: str
    input_precision_s: int = 8
    input_precision_p: int = 8
    pe_dotprod_size: int = 16
    pe_array_dim: tuple = (32, 16)
    options: dict = field(default_factory=dict)


# ---- bit planes ---------------------------------------------------------------------------------------
def twos_planes(w: np.ndarray) -> np.ndarray:
    """BitSim int_to_twosComplement: [8, ...] uint8, plane 0 = sign (MSB)."""
    w = np.asarray(w, np.int64)
    u = np.where(w < 0, w + 128, w)
    out = np.empty((8,) + w.shape, np.uint8)
    for k in range(1, 8):
        out[k] = (u >> (7 - k)) & 1
    out[0] = w < 0
    return out


def signmag_planes(w: np.ndarray) -> np.ndarray:
    """BitSim int_to_signMagnitude: -128 -> -127; plane 0 = 1 if negative, planes 1..7 = |w|."""
    w = np.asarray(w, np.int64)
    w = np.where(w == -128, -127, w)
    m = np.abs(w)
    out = np.empty((8,) + w.shape, np.uint8)
    for k in range(1, 8):
        out[k] = (m >> (7 - k)) & 1
    out[0] = w < 0
    return out


def bitwave_flip(w_stored: np.ndarray, is_conv: bool, n_pruned: int) -> np.ndarray:
    """BitSim ``bitflip_signMagnitude_{fc,conv}`` (group 32 or the channel count if smaller, over the
    flattened [K, C] / [K, H, W, C] weights): the kernel of :func:`datatypes.bbs.bit_flip` run on those
    groups (int8 in and out; -128 -> -127 first, as BitSim's sign-magnitude conversion does).
    Input: BitSim's in-memory layout ([cout, cin] FC, [cout, cin, k, k] conv); same layout out."""
    from datatypes.bbs import _bit_flip_kernel, _check_params

    w = np.asarray(w_stored)
    if is_conv:
        K, C, Hk, Wk = w.shape
        flat = w.transpose(0, 2, 3, 1).reshape(-1)
    else:
        K, C = w.shape
        flat = w.reshape(-1)
    g = C if C < 32 else 32
    if flat.size % g:
        raise CompatError(f"bitwave bit flip: {flat.size} weights are not a multiple of the group {g} "
                          "(BitSim's reshape fails there too)")
    flat = np.maximum(flat.astype(np.int8, copy=False), np.int8(-127))
    if n_pruned > 0:
        _check_params(8, g, n_pruned, "bit_flip")          # what datatypes.bbs.bit_flip accepts
        out = np.empty_like(flat)
        _bit_flip_kernel(flat.reshape(-1, g), 8, n_pruned, out.reshape(-1, g), np.zeros(flat.size // g, np.int64))
        flat = out
    if is_conv:
        return flat.reshape(K, Hk, Wk, C).transpose(0, 3, 1, 2)
    return flat.reshape(K, C)


# ---- tiles --------------------------------------------------------------------------------------------
def _kernel_matrix(w_stored: np.ndarray, w_dim) -> np.ndarray:
    """BitSim's tiling order as [cout, A, L]: FC [cout, 1, cin]; conv k^2 > cw: [cout, cw, k*k];
    conv k^2 <= cw: [cout, k*k, cw]."""
    if len(w_dim) == 2:
        return w_stored[:, None, :]
    k, _, cw, cout = w_dim
    w = w_stored  # [cout, cin, k, k]
    if k * k > cw:
        return w.reshape(cout, cw, k * k)
    return w.transpose(0, 2, 3, 1).reshape(cout, k * k, cw)


def _stats(design, planes_fn, w_stored, w_dim, H, dp, n_skipped=0, prec_p=8):
    """Per-layer sum of per-tile cycles ("cycle_kernel") and the op counters, over all tiles
    (one Numba pass over the weights; ``planes_fn`` names the bit representation for the reader)."""
    from .kernels import _POPC, _SM, _SM_POPC, _SPREAD, bitsim_tile_stats
    code = {"bitvert": 0, "pragmatic": 1, "bitlet": 2, "bitwave": 3}[design]
    wm = np.ascontiguousarray(_kernel_matrix(np.asarray(w_stored), w_dim))
    out = np.zeros(6, np.int64)
    bitsim_tile_stats(wm, H, dp, code, n_skipped, prec_p, out, _SPREAD, _POPC, _SM, _SM_POPC)
    cnt = dict(num_eff_op=0, num_total_op=0, min_intra_pe_op=0, max_intra_pe_op=0)
    if design != "bitvert":
        cnt["num_eff_op"] = int(out[1])
        cnt["num_total_op"] = int(out[2])
        cnt["min_intra_pe_op"] = int(out[3])
        cnt["max_intra_pe_op"] = int(out[4])
    if design == "bitwave":
        # sum(tile + n_skipped / 8) per tile, exact in binary fractions of 1/8
        cnt["num_eff_op"] = float(out[1]) + float(out[5]) * (n_skipped / prec_p)
    return int(out[0]), cnt


# ---- the accelerator ----------------------------------------------------------------------------------
def _tiles(w_dim, o_dim, dp, H, W, i_dim=None):
    if len(w_dim) == 4:
        k, _, cw, cout = w_dim
        _, oh, ow, _ = o_dim
        if i_dim is not None and i_dim[3] != cw:  # depthwise
            return math.ceil((k ** 2) / dp) * cw * cout * math.ceil(ow / W) * oh
        tk = math.ceil((k ** 2) / dp) * cw if k ** 2 > cw else math.ceil(cw / dp) * (k ** 2)
        return tk * math.ceil(cout / H) * math.ceil(ow / W) * oh
    cin, cout = w_dim
    _, tok, _ = o_dim
    return math.ceil(cin / dp) * math.ceil(cout / H) * math.ceil(tok / W)


def _kernel_tiles(w_dim, dp, H, i_dim):
    """Tiles of one output position (the per-tile loop of the data-dependent designs)."""
    if len(w_dim) == 4:
        k, _, cw, cout = w_dim
        if i_dim[3] != cw:
            return math.ceil((k ** 2) / dp) * cw * cout
        tk = math.ceil((k ** 2) / dp) * cw if k ** 2 > cw else math.ceil(cw / dp) * (k ** 2)
        return tk * math.ceil(cout / H)
    cin, cout = w_dim
    return math.ceil(cin / dp) * math.ceil(cout / H)


def _spatial(w_dim, o_dim, W):
    if len(w_dim) == 4:
        _, oh, ow, _ = o_dim
        return math.ceil(ow / W) * oh
    return math.ceil(o_dim[1] / W)


def _check(c: BitSimConfig, layers, weights):
    if c.design not in DESIGNS:
        raise CompatError(f"bitsim design {c.design!r}: allowed: {', '.join(DESIGNS)}")
    d = c.pe_array_dim
    if len(d) != 2 or any((not isinstance(x, int)) or x < 1 for x in d):
        raise CompatError(f"bitsim: pe_array_dim = {d!r}: expected two integers >= 1 (rows, cols)")
    if not isinstance(c.pe_dotprod_size, int) or not 1 <= c.pe_dotprod_size <= 255:
        raise CompatError(f"bitsim: pe_dotprod_size = {c.pe_dotprod_size!r}: expected an integer in [1, 255]")
    allowed = {"stripes": set(), "pragmatic": set(), "bitlet": set(),
               "bitvert": {"en_bbs", "en_lsb_pruning", "en_ol_channel", "en_eager_compression", "nonzero_channels"},
               "bitwave": {"layer_prec", "en_bitflip", "en_config_dataflow"}}[c.design]
    bad = set(c.options) - allowed
    if bad:
        raise CompatError(f"bitsim {c.design}: unknown option(s) {sorted(bad)}; allowed: {sorted(allowed) or 'none'}")
    names = layers[0]
    if len(names) == 0:
        raise CompatError("bitsim: the model has no layers BitSim keeps (conv/fc/proj/qkv/query/key/value/linear)")
    needs_w = c.design in ("pragmatic", "bitlet") or (c.design == "bitvert" and not _bitvert_bbs(c.options)) \
        or c.design == "bitwave"
    if needs_w:
        for n in names:
            if n not in weights:
                raise CompatError(f"bitsim {c.design}: no weights for layer {n!r}")
            w = np.asarray(weights[n])
            if w.dtype.kind not in "iuf" or (w.dtype != np.int8 and w.size and (w.min() < -128 or w.max() > 127)):
                raise CompatError(f"bitsim {c.design}: weights of {n!r} must be INT8 values in [-128, 127]")


def _weights(weights, n, w_dim) -> np.ndarray:
    w = np.asarray(weights[n])
    want = (w_dim[3], w_dim[2], w_dim[0], w_dim[1]) if len(w_dim) == 4 else (w_dim[1], w_dim[0])
    if w.shape != tuple(want):
        raise CompatError(f"bitsim: weights of {n!r} have shape {w.shape}; expected {tuple(want)} "
                          "(BitSim's in-memory layout: [cout, cin] FC, [cout, cin, k, k] conv)")
    return np.ascontiguousarray(w, dtype=np.int8)      # INT8 values (checked in _check)


def _bitvert_bbs(o):
    return bool(o.get("en_bbs") or o.get("en_lsb_pruning") or o.get("en_ol_channel"))


def simulate(c: BitSimConfig, layers, weights: dict | None = None) -> dict:
    """layers: (names, weight_dim, input_dim, output_dim) as :func:`bitsim_workloads.parse_matmul_json`
    returns; weights: {name: INT8 array in BitSim's in-memory layout ([cout, cin] FC, [cout, cin, k, k]
    conv)}. Returns the published simulator's numbers under its own names."""
    weights = weights or {}
    _check(c, layers, weights)
    names, wd, idim, od = layers
    H, W = c.pe_array_dim
    dp = c.pe_dotprod_size
    ps, pp = c.input_precision_s, c.input_precision_p
    o = c.options
    design = c.design
    counters = dict(num_eff_op=0, num_total_op=0, min_intra_pe_op=0, max_intra_pe_op=0)
    # per-layer weight precision (BitVert w_prec_eff / BitWave w_prec_config)
    prec = {}
    if design == "bitvert":
        en_ol = bool(o.get("en_ol_channel"))
        en_lsb = bool(o.get("en_lsb_pruning")) and not en_ol
        eager = bool(o.get("en_eager_compression"))
        prec_l = (4. if eager else 6.) if en_ol else 8
        nz = o.get("nonzero_channels") or {}
        cfg = {}
        for n in names:
            if not en_lsb and not en_ol:
                cfg[n] = [(ps, 1.0), (ps, 0.)]
            elif en_lsb:
                cfg[n] = [(ps - 2, 1.0), (ps, 0.)]
            else:
                tmp = n.rstrip(".conv") if "conv" in n else n
                cnt = len(nz[tmp]) if tmp in nz else 0
                r = cnt / wd[n][-1]
                cfg[n] = [(ps, r), (prec_l, 1 - r)]
            (ph, rh), (pl, rl) = cfg[n]
            prec[n] = ph * rh + pl * rl
    elif design == "bitwave":
        for n in names:
            prec[n] = ps
        dataflows = _BITWAVE_DATAFLOWS if o.get("en_config_dataflow", True) else [[8, H, W]]
    rows = []
    for n in names:
        w_dim, i_dim, o_dim = wd[n], idim[n], od[n]
        is_conv = len(w_dim) == 4
        depthwise = is_conv and i_dim[3] != w_dim[2]
        row = dict(name=n, w_dim=list(w_dim), i_dim=list(i_dim), o_dim=list(o_dim))
        if design == "bitwave":
            best, best_df = 1e9, None
            ws = None
            for df in dataflows:
                dpx, Hx, Wx = df
                if o.get("en_bitflip"):
                    if depthwise:
                        raise CompatError(f"bitsim bitwave: depthwise layer {n!r} is not supported")
                    if ws is None:
                        ws = bitwave_flip(_weights(weights, n, w_dim), is_conv, 8 - ps)
                    ck, cnt = _stats("bitwave", signmag_planes, ws, w_dim, Hx, dpx, n_skipped=8 - ps + 1, prec_p=pp)
                else:
                    ck = _kernel_tiles(w_dim, dpx, Hx, i_dim) * int(prec[n] - 1)
                    cnt = None
                cyc = ck * _spatial(w_dim, o_dim, Wx)
                if cnt is not None:        # BitSim adds every evaluated dataflow's op counters (quirk)
                    sp = _spatial(w_dim, o_dim, Wx)
                    for k in counters:
                        counters[k] += cnt[k] * sp
                if cyc < best:
                    best, best_df = cyc, df
            row["cycle_compute"] = best
            row["dataflow"] = list(best_df)
            row["tiles"] = _tiles(w_dim, o_dim, best_df[0], best_df[1], best_df[2], i_dim)
        else:
            tiles = _tiles(w_dim, o_dim, dp, H, W, i_dim)
            row["tiles"] = tiles
            if design == "stripes":
                row["cycle_compute"] = tiles * ps
            elif design == "bitvert" and _bitvert_bbs(o):
                (ph, rh), (pl, rl) = cfg[n]
                if o.get("en_ol_channel"):
                    row["cycle_compute"] = tiles * rh * ph + tiles * rl * pl
                elif o.get("en_lsb_pruning"):
                    row["cycle_compute"] = tiles * ph
                else:
                    row["cycle_compute"] = _kernel_tiles(w_dim, dp, H, i_dim) * int(ph) * _spatial(w_dim, o_dim, W)
            else:
                if depthwise:
                    raise CompatError(f"bitsim {design}: depthwise layer {n!r} is not supported")
                ws = _weights(weights, n, w_dim)
                pf = twos_planes if design in ("bitvert", "bitlet") else signmag_planes
                ck, cnt = _stats(design, pf, ws, w_dim, H, dp, prec_p=pp)
                sp = _spatial(w_dim, o_dim, W)
                row["cycle_compute"] = ck * sp
                for k in counters:
                    counters[k] += cnt[k] * sp
        rows.append(row)
    # ---- memory sizes -------------------------------------------------------------------------------
    last = len(names) - 1
    for idx, r in enumerate(rows):
        n, w_dim, i_dim, o_dim = r["name"], r["w_dim"], r["i_dim"], r["o_dim"]
        if len(w_dim) == 4:
            k, _, cw, cout = w_dim
            _, iw, ih, cin = i_dim
            _, oh, ow, _ = o_dim
            if design == "bitvert":
                r["w_bytes"] = (cw * k ** 2 * cout) * prec[n] / 8
            elif design == "bitwave":
                r["w_bytes"] = math.ceil(cw / 8) * prec[n] * k ** 2 * cout
            else:
                r["w_bytes"] = math.ceil(cw * pp / 8) * k ** 2 * cout
            r["i_bytes"] = math.ceil(cin * pp / 8) * ih * iw
            r["o_bytes"] = math.ceil(cout * pp / 8) * oh * ow
        else:
            cin, cout = w_dim
            tok = o_dim[1]
            if design == "bitvert":
                r["w_bytes"] = (cin * cout) * prec[n] / 8
            elif design == "bitwave":
                r["w_bytes"] = math.ceil(cin / 8) * prec[n] * cout
            else:
                r["w_bytes"] = math.ceil(cin * pp / 8) * cout
            r["i_bytes"] = math.ceil(cin * pp / 8) * tok
            r["o_bytes"] = 0 if idx == last else math.ceil(cout * pp / 8) * tok
    # ---- memories -----------------------------------------------------------------------------------
    if design == "bitwave":
        w_cfg = (18 * 1024 * 8 * 16, 16, 64 * 16)
        i_cfg = (16 * 1024 * 8 * 16, 16, 64 * 16)
    else:
        w_cfg = (288 * 1024 * 8, H, (dp * pp) * H)
        i_cfg = (256 * 1024 * 8, W, (dp * pp) * W)
    wc = cacti_lookup("bitsim", *w_cfg)
    ic = cacti_lookup("bitsim", *i_cfg)
    size_w, size_i = w_cfg[0] / 8, i_cfg[0] / 8
    cnn = c.model_name in _CNN_REFETCH
    for r in rows:
        wb, ib = r["w_bytes"], r["i_bytes"]
        if wb > size_w and ib > size_i:
            nri = math.ceil(wb / size_w)
            nrw = math.ceil(ib / size_i)
            if cnn:
                r["refetch"] = [nrw, 1] if (nrw * wb + ib) < (nri * ib + wb) else [1, nri]
            else:
                r["refetch"] = [1, nri]
        else:
            r["refetch"] = [1, 1]
    # ---- DRAM cycles --------------------------------------------------------------------------------
    bw = 64 * 2
    read_in = True
    for r in rows:
        fw, fi = r["refetch"]
        wp = prec[r["name"]] if design in ("bitvert", "bitwave") else pp
        dw = r["w_bytes"] * wp / bw
        dw *= fw
        ib, ob = r["i_bytes"], r["o_bytes"]
        di = ib * pp / bw if read_in else 0
        di *= fi
        if (ib + ob) < size_i:
            do = 0
            read_in = False
        else:
            do = ob * pp / bw
            read_in = True
        r["cycle_dram"] = int(dw + do + di)
    total = 0
    total_compute = 0
    for r in rows:
        total_compute += r["cycle_compute"]
        total += max(r["cycle_compute"], r["cycle_dram"])
    # ---- energy -------------------------------------------------------------------------------------
    pe_e, wreg, ireg = _ENERGY[design]
    npe = H * W
    energy = {}
    compute_e = pe_e * npe * total_compute
    if design == "bitwave":
        compute_e += (wreg * 128 * total_compute)
    energy["compute"] = compute_e
    num_tile = sum(r["tiles"] for r in rows)
    if wc is not None and ic is not None:
        if design == "bitwave":
            energy["sram_rd"] = total_compute * wc["r_cost"] + num_tile * ic["r_cost"]
        else:
            energy["sram_rd"] = (num_tile * (wc["r_cost"] + ic["r_cost"]) + wreg * H * total_compute
                                 + ireg * W * num_tile)
        w_min = wc["w_cost"] / (w_cfg[2] / 64)
        i_min = ic["w_cost"] / (i_cfg[2] / 64)
        e = 0
        for r in rows:
            fw, fi = r["refetch"]
            w_dim, i_dim, o_dim = r["w_dim"], r["i_dim"], r["o_dim"]
            wp = prec[r["name"]] if design == "bitwave" else pp
            if len(w_dim) == 4:
                _, iw, ih, cin = i_dim
                k, _, cw, cout = w_dim
                _, oh, ow, _ = o_dim
                ew = math.ceil(cw * wp / 64) * (k ** 2) * cout * w_min * fw
                ei = math.ceil(cin * pp / 64) * ih * iw * i_min * fi
                eo = math.ceil(cout * pp / 64) * oh * ow * i_min
            else:
                cin, cout = w_dim
                tok = o_dim[1]
                ew = math.ceil(cin * wp / 64) * cout * w_min * fw
                ei = math.ceil(cin * pp / 64) * tok * i_min * fi
                eo = 0 if tok == 1 else math.ceil(cout * pp / 64) * tok * i_min
            e += ew + ei + eo
        energy["sram_wr"] = e
    else:
        energy["sram_rd"] = energy["sram_wr"] = None
    read_in = True
    e = 0
    for r in rows:
        fw, fi = r["refetch"]
        ew = r["w_bytes"] * 8 / 64 * 1000
        ib, ob = r["i_bytes"], r["o_bytes"]
        ei = ib * 8 / 64 * 1000 if read_in else 0
        if (ib + ob) < size_i:
            eo = 0
            read_in = False
        else:
            eo = 0 if (len(r["w_dim"]) == 2 and ob == 0) else ob * 8 / 64 * 1000
            read_in = True
        ew *= fw
        ei *= fi
        e += ew + ei + eo
    energy["dram"] = e
    out = dict(simulator="BitSim@6845fad", design=design, model_name=c.model_name,
               cycle_compute=total_compute, cycle_total=total, energy=energy, layers=rows,
               memories=dict(w_sram=dict(rw_bw=w_cfg[2], **(wc or {})), i_sram=dict(rw_bw=i_cfg[2], **(ic or {}))))
    if design in ("pragmatic", "bitlet", "bitwave"):
        # BitSim accumulates them from torch .item() floats (BitWave's op total from int column counts)
        out["counters"] = {k: (v if (design == "bitwave" and k == "num_total_op") else float(v))
                           for k, v in counters.items()}
    if design == "bitvert":
        for r in rows:
            r["w_prec_eff"] = prec[r["name"]]
    return out
