"""The ``bitserial`` kind: bit-serial PE arrays (BitMoD, BitVert/BBS) and the compatibility modes
that reproduce the published BitMoD and BitSim simulators (see docs/bitserial.md)."""
