#!/bin/sh
# LoRA training-step benchmark of the Qwen-Image transformer (the two sizes the transformer issue
# asks for), and the PyTorch peer of the same step when Debian's python3-torch is installed.
BIN=${BIN:-build/simpletuner}
"$BIN" bench train-step --dim 256 --heads 4 --layers 4 --img 256 --txt 32 --rank 16 --steps 5 --threads 2
"$BIN" bench train-step --dim 512 --heads 8 --layers 8 --img 1024 --ref 1024 --txt 64 --rank 16 --steps 3 --threads 2
# Debian's interpreter first: python3-torch installs there, not into a pyenv/venv python3 on PATH
PY=python3
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import torch" 2>/dev/null && PY=/usr/bin/python3
if $PY -c "import torch" 2>/dev/null; then
    OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE $PY bench/train_step_torch.py
else
    echo "PyTorch peer skipped: python3-torch is not installed (apt-get install python3-torch to compare)"
fi
