#!/usr/bin/env bash
# ABI facts comparison of shim/abi/*.hpp against shared/abi-facts (see scripts/check-abi.sh).
set -euo pipefail
exec bash "$(cd "$(dirname "$0")/../.." && pwd)/scripts/check-abi.sh"
