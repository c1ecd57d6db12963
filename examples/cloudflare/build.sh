#!/usr/bin/env bash
# Builds build/ for wrangler: the Rust crate for wasm32, its JavaScript bindings, the shim.
set -euo pipefail
cd "$(dirname "$0")"

# The CLI must be the version of the wasm-bindgen crate in Cargo.lock: the two agree on a
# private format, and a mismatch fails at run time, not at build time.
wanted=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print }' Cargo.lock)
if ! command -v wasm-bindgen > /dev/null; then
  echo "build.sh: wasm-bindgen not found; install it with: cargo install wasm-bindgen-cli --version $wanted" >&2
  exit 1
fi
found=$(wasm-bindgen --version | awk '{ print $2 }')
if [ "$found" != "$wanted" ]; then
  echo "build.sh: wasm-bindgen is $found, Cargo.lock has $wanted; install it with: cargo install wasm-bindgen-cli --version $wanted" >&2
  exit 1
fi

cargo build --release --locked --target wasm32-unknown-unknown
rm -rf build
wasm-bindgen --target module --out-dir build --out-name index --no-typescript \
  "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/wskit_cloudflare_example.wasm"
# wasm-bindgen writes a source-phase import (`import source`), which wrangler's esbuild
# cannot parse; a plain import of the .wasm gives the same WebAssembly.Module.
sed -i 's/^import source wasmModule from/import wasmModule from/' build/index.js
grep -q '^import wasmModule from' build/index.js || { echo "build.sh: the import of the wasm module in build/index.js has changed" >&2; exit 1; }
cp shim.mjs build/
