#!/usr/bin/env bash
# Installs the local stand-ins for the cloud, all under the repo and ignored by git:
#   .venv/               moto (AWS), aws-sam-cli and cfn-lint, from infra/local/requirements.txt
#   .tools/tansu/bin/    tansu, a Kafka-protocol broker (MSK), built from crates.io
#   .tools/azurite/      Azurite, the Azure Storage emulator (Blob), from npm (needs Node >= 18)
#   chromium             Debian's, system-wide (as root, or says how): the report page test
# Usage: infra/setup.sh            everything the tests need (what .ci/run calls)
#        infra/setup.sh --aws      the venv and Azurite (enough for `vigil demo --local-aws`
#                                  and `vigil backup drill`)
#        infra/setup.sh --build    the venv and cargo-lambda (what `sam build` needs)
# Idempotent: what is already installed is left as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-all}"

if ! { [ -x .venv/bin/python ] && .venv/bin/python -c "import moto, flask" 2>/dev/null \
        && [ -x .venv/bin/sam ] && [ -x .venv/bin/cfn-lint ]; }; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check -r infra/local/requirements.txt
    echo "moto $(.venv/bin/python -c 'import moto; print(moto.__version__)'), $(.venv/bin/sam --version), cfn-lint installed in .venv"
fi

if [ "$mode" = "--build" ]; then
    if [ ! -x .venv/bin/cargo-lambda ]; then
        .venv/bin/pip install --quiet --disable-pip-version-check cargo-lambda==1.9.2
        echo "cargo-lambda installed in .venv (sam build needs .venv/bin on PATH)"
    fi
    exit 0
fi
# 3.35.0 is the newest Azurite that runs on Node 20; the backup copier's tests and
# `vigil backup drill` start it (local/src/azurite.rs).
AZURITE_VERSION=3.35.0
if ! grep -qs "\"version\": \"$AZURITE_VERSION\"" .tools/azurite/node_modules/azurite/package.json; then
    npm install --prefix .tools/azurite --no-audit --no-fund --no-save --loglevel=error \
        "azurite@$AZURITE_VERSION" >/dev/null
    echo "azurite $AZURITE_VERSION installed in .tools/azurite"
fi
[ "$mode" = "--aws" ] && exit 0

# cli/tests/report.rs opens every report page in headless Chromium.
if ! command -v chromium >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
        echo "$(chromium --version) installed"
    else
        echo "the report page test needs Chromium: sudo apt-get install chromium" >&2
    fi
fi

TANSU_VERSION=0.6.0
if ! .tools/tansu/bin/tansu --version 2>/dev/null | grep -q "$TANSU_VERSION"; then
    # Its own target dir keeps it out of the workspace's. Unoptimised and without debug
    # info: the tests send it a few hundred records, and a release build took ~12 of CI's
    # minutes (this one ~6).
    CARGO_PROFILE_DEV_DEBUG=0 cargo install tansu --version "$TANSU_VERSION" --locked --features dynostore \
        --debug --root .tools/tansu --target-dir .tools/tansu-build --quiet
    rm -rf .tools/tansu-build
    echo "tansu $TANSU_VERSION installed in .tools/tansu"
fi
