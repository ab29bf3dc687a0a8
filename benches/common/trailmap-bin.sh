# Sourced by the benchmark scripts: the binary to measure, in $BIN. TRAILMAP_BIN measures a
# binary already built; otherwise the release binary is built first (with the cargo features in
# $FEATURES, if set).
if [ -n "${TRAILMAP_BIN:-}" ]; then
  BIN="$TRAILMAP_BIN"
else
  cargo build --release --quiet ${FEATURES:+--features "$FEATURES"}
  BIN="$PWD/target/release/trailmap"
fi
