#!/usr/bin/env bash
# Installs the local stand-ins for the cloud into .venv (ignored by git): moto for AWS.
# Idempotent: a venv that already has them is left as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x .venv/bin/python ] && .venv/bin/python -c "import moto, flask" 2>/dev/null; then
    exit 0
fi
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r infra/local/requirements.txt
echo "moto $(.venv/bin/python -c 'import moto; print(moto.__version__)') installed in .venv"
