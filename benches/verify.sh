#!/usr/bin/env bash
# Throughput of `trailmap verify` against standard tools doing part of its work, on the same
# number of processes: `sha256sum` of the inflated files (inflated beforehand, not timed: the
# hashing floor), and `gzip -dc FILE | sha256sum` per file (inflating and hashing, as verify does).
# The archive is the 500,000-event benchmark archive with its digest chain, signed. Not a test:
# figures for docs/performance.md.
#
#   bash benches/verify.sh [EVENTS]      default 500000 (120 per file, 30 days)
#
# Set VERIFY_DIR to keep the generated data somewhere else than /tmp/trailmap-verify, and
# TRAILMAP_BIN to measure a binary already built.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS="${1:-500000}"
WORK="${VERIFY_DIR:-/tmp/trailmap-verify}"
THREADS="${THREADS:-2}"
export RAYON_NUM_THREADS="$THREADS" TOKIO_WORKER_THREADS="$THREADS"

. benches/common/trailmap-bin.sh
mkdir -p "$WORK"
ARCHIVE="$WORK/signed-chain-$EVENTS"
if [ ! -d "$ARCHIVE" ]; then
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/key.pem" 2>/dev/null
  "$BIN" generate -o "$ARCHIVE" --events "$EVENTS" --events-per-file 120 --days 30 \
    --sign-key "$WORK/key.pem" --signatures-out "$ARCHIVE.signatures.json" \
    --public-keys-out "$ARCHIVE.keys.json" >/dev/null
fi
FILES=$(find "$ARCHIVE" -name '*.json.gz' | wc -l)
INFLATED=$(find "$ARCHIVE" -name '*.json.gz' -print0 | xargs -0 cat | gzip -dc | wc -c)
echo "archive: $FILES files (logs and digests), $((INFLATED / 1000000)) MB inflated, $THREADS threads"

INFLATED_DIR="$WORK/inflated-$EVENTS"
if [ ! -d "$INFLATED_DIR" ]; then
  (cd "$ARCHIVE" && find . -name '*.json.gz' | while read -r f; do
    mkdir -p "$INFLATED_DIR/$(dirname "$f")"
    gzip -dc "$f" >"$INFLATED_DIR/${f%.gz}"
  done)
fi
# Warm the page cache, then time each twice and keep the faster run.
find "$ARCHIVE" "$INFLATED_DIR" -type f -print0 | xargs -0 cat >/dev/null
best() {
  local best=""
  for _ in 1 2; do
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null
    end=$(date +%s.%N)
    local t
    t=$(echo "$end - $start" | bc)
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc)" = 1 ]; then best=$t; fi
  done
  echo "$best"
}
hash_all() {
  find "$ARCHIVE" -name '*.json.gz' -print0 |
    xargs -0 -P "$THREADS" -n 64 sh -c 'for f; do gzip -dc "$f" | sha256sum; done' sh
}
sha_only() {
  find "$INFLATED_DIR" -type f -print0 | xargs -0 -P "$THREADS" -n 512 sha256sum
}
verify_all() {
  # A local copy: its signatures as saved from S3, and --to to anchor its tail.
  "$BIN" verify -s "$ARCHIVE" --signatures "$ARCHIVE.signatures.json" \
    --public-keys "$ARCHIVE.keys.json" --to 2025-03-30 \
    --format json -o /dev/null 2>/dev/null
}
# The answer first: a clean chain verifies (exit 0).
verify_all
T_VERIFY=$(best verify_all)
T_SHA=$(best hash_all)
T_SHA_ONLY=$(best sha_only)
printf 'trailmap verify:          %6.2f s  %6.0f MB/s\n' "$T_VERIFY" "$(echo "$INFLATED / $T_VERIFY / 1000000" | bc -l)"
printf 'gzip -dc | sha256sum:     %6.2f s  %6.0f MB/s\n' "$T_SHA" "$(echo "$INFLATED / $T_SHA / 1000000" | bc -l)"
printf 'sha256sum (inflated):     %6.2f s  %6.0f MB/s\n' "$T_SHA_ONLY" "$(echo "$INFLATED / $T_SHA_ONLY / 1000000" | bc -l)"
