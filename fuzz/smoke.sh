#!/usr/bin/env bash
# A short run of every fuzz target from the committed seeds, for CI: fails on the first
# crash, leak or timeout, with the input that caused it under fuzz/artifacts/<target>/.
#
#   fuzz/smoke.sh [seconds per target]    (default 20)
set -euo pipefail

cd "$(dirname "$0")"
seconds="${1:-20}"
targets=(envelope payload frame handshake bus_message ws_frames)

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

# One build for every target: they share all dependencies.
cargo +nightly fuzz build

# New inputs go to a scratch corpus, so the committed seeds stay as they are.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

for target in "${targets[@]}"; do
    mkdir "$scratch/$target"
    echo "fuzz: $target for ${seconds}s"
    # -max_len leaves room for inputs well beyond the 1 KiB message limit of the frame target
    # and for several frames in one input.
    cargo +nightly fuzz run "$target" "$scratch/$target" "seeds/$target" -- \
        -dict="dict/$target.dict" -max_len=4096 -max_total_time="$seconds" -timeout=10 -print_final_stats=1
done
