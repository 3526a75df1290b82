#!/usr/bin/env bash
# The feed's staging copies read files with pread by default; this runs the feed tests again
# with TRTQ_FEED_READ=map (copies from the memory mapping), so both readers stay tested.
set -euo pipefail
cd "$(dirname "$0")/../.."
TRTQ_FEED_READ=map cargo test --quiet --test feed_hostcuda --test calibrate_e2e
