#!/usr/bin/env bash
# Trains the committed model: Python venv under the repo, release build of `vigil`
# (features come from the Rust engine), then train.py. Needs ../shared beside the repo.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q -r infra/model/requirements.txt
cargo build --release --bin vigil
.venv/bin/python infra/model/train.py "$@"
