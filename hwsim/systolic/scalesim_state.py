"""Slot layout of the integer state vectors that the SCALE-Sim memory kernels (``scalesim_kernels``) and
their driver (``scalesim_mem``) share, and the kernels' error codes. Plain constants: importing this
module imports neither numpy nor Numba."""

# error codes returned by the kernels (SCALE-Sim raises an exception in these situations)
ERR_NONE, ERR_NOT_PREFETCHED, ERR_CALC_CAPACITY, ERR_CALC_ZERO_CYCLES, ERR_WB_EMPTY, ERR_USER_SHORT = range(6)
ERRORS = {
    ERR_NOT_PREFETCHED: "a demanded address is not in the prefetch sequence (SCALE-Sim loops forever)",
    ERR_CALC_CAPACITY: "CALC prefetch of more addresses than cycles x bandwidth (numpy reshape error in "
                       "ReadBufferEstimateBw.prefetch)",
    ERR_CALC_ZERO_CYCLES: "two CALC buffer swaps in one cycle (ZeroDivisionError in ReadBufferEstimateBw)",
    ERR_WB_EMPTY: "the ofmap write buffer drains an empty trace (IndexError in write_buffer.empty_drain_buf)",
    ERR_USER_SHORT: "a USER prefetch wraps around a fetch matrix shorter than the prefetch (shape error in "
                    "read_buffer.new_prefetch)",
}

# USER read buffer state
U_ASTART, U_AEND, U_LAST, U_ACCESS, U_TMIN, U_TMAX, U_FULL, U_NL, U_NACT, U_NPF, U_FIRST, U_PFL, U_BW, \
    U_ROWS, U_NEXT = range(15)
# CALC read buffer state
E_CUR, E_ELEMS, E_RSTART, E_REND, E_PSTART, E_PEND, E_LSTART, E_LEND, E_FIRSTC, E_SEEN, E_DONE, E_ACCESS, \
    E_TSTART, E_TEND, E_TVALID, E_PBW, E_ITEMS, E_NACT, E_NPF, E_DBW, E_ADDS, E_ERR = range(22)
# write buffer state
W_FREE, W_LIDX, W_NLINES, W_TLEN, W_DSTART, W_DEND, W_ACCESS, W_DMIN, W_DMAX, W_TVALID, W_TNONEMPTY, \
    W_TOTAL, W_ACTIVE, W_DRAIN, W_BW, W_ERR = range(16)
# main loop state
M_ROW, M_STALL, M_IF0, M_IF1, M_F0, M_F1, M_O0, M_O1, M_MAXO, M_LASTO, M_ERR = range(11)
NONE = -(1 << 62)
