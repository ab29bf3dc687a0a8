#!/usr/bin/env bash
# Peak RSS of trailmap where memory could run away: one log file holding GBs of JSON, an archive
# five times the benchmark's, and a gzip bomb among good files. Each case runs the served-regions
# question (and `count(*)` over every column for the big file) under `/usr/bin/time -v`, checks
# the answer, and prints the peak RSS. Not a test: figures for docs/performance.md.
#
#   bash benches/memory.sh [BIG_FILE_EVENTS] [ARCHIVE_EVENTS] [BOMB_GB]
#       defaults: 1100000 events in one file (~1.5 GB of JSON), 2500000 events (5x), 20 GB
#
# Set MEMORY_DIR to keep the generated data somewhere else than /tmp/trailmap-memory, and
# TRAILMAP_BIN to measure a binary already built.
set -euo pipefail
cd "$(dirname "$0")/.."
BIG_EVENTS="${1:-1100000}"
ARCHIVE_EVENTS="${2:-2500000}"
BOMB_GB="${3:-20}"
WORK="${MEMORY_DIR:-/tmp/trailmap-memory}"
. benches/common/threads.sh

. benches/common/trailmap-bin.sh
mkdir -p "$WORK"

# One file of BIG_EVENTS records.
BIG="$WORK/big-$BIG_EVENTS"
if [ ! -d "$BIG" ]; then
  "$BIN" generate -o "$BIG" --events "$BIG_EVENTS" --events-per-file "$BIG_EVENTS" --days 1 >/dev/null
fi
# The 5x archive, laid out like compare.sh's.
ARCHIVE="$WORK/archive-$ARCHIVE_EVENTS"
if [ ! -d "$ARCHIVE" ]; then
  "$BIN" generate -o "$ARCHIVE" --events "$ARCHIVE_EVENTS" --events-per-file 120 --days 30 >/dev/null
fi
# A gzip bomb (BOMB_GB of JSON whitespace inside a valid log file) beside the sample data.
BOMBED="$WORK/bombed-$BOMB_GB"
if [ ! -d "$BOMBED" ]; then
  mkdir -p "$BOMBED"
  cp -r sample-data/. "$BOMBED/"
  BOMB_DIR="$BOMBED/AWSLogs/111122223333/CloudTrail/us-east-1/2025/03/01"
  mkdir -p "$BOMB_DIR"
  { printf '{"Records":['; head -c "${BOMB_GB}G" /dev/zero | tr '\0' ' '; printf ']}'; } |
    gzip -1 > "$BOMB_DIR/111122223333_CloudTrail_us-east-1_20250301T0000Z_bomb.json.gz"
fi

SQL="SELECT served_region, count(*) AS n FROM invocations GROUP BY 1 ORDER BY 1"
# Runs trailmap with the given arguments; prints "seconds peak-RSS-MB" and keeps stdout/stderr.
measure() {
  local name="$1"; shift
  local file="$WORK/${name//\//_}"
  /usr/bin/time -f "%e %M" -o "$file.time" "$BIN" "$@" >"$file.out" 2>"$file.err" || true
  read -r seconds kib < "$file.time"
  printf '%-34s %8.2f s %8d MB\n' "$name" "$seconds" $(( kib / 1024 ))
}

json_mb() { find "$1" -name '*.json.gz' -path '*/CloudTrail/*' -print0 | xargs -0 gzip -dc | wc -c | awk '{printf "%d", $1 / 1e6}'; }
echo "big file: $(json_mb "$BIG") MB of JSON in one file; archive: $(json_mb "$ARCHIVE") MB of JSON"
printf '%-34s %10s %11s\n' case wall peak-RSS
measure "big-file/served-regions" query -s "$BIG" --max-file-size 4GiB --format csv "$SQL"
measure "big-file/count-all-columns" query -s "$BIG" --max-file-size 4GiB --format csv \
  "SELECT count(*) AS n, count(DISTINCT event_id) AS ids, max(length(request_parameters)) AS p FROM events"
measure "5x-archive/served-regions" query -s "$ARCHIVE" --format csv "$SQL"
measure "bomb+sample/served-regions" query -s "$BOMBED" --format csv "$SQL"

# Answers: every record of the big file, and the sample's answer despite the bomb.
grep -q "^$BIG_EVENTS,$BIG_EVENTS," "$WORK/big-file_count-all-columns.out" ||
  { echo "big file: not every record was read: $(cat "$WORK/big-file_count-all-columns.out")"; exit 1; }
"$BIN" query -s sample-data --format csv "$SQL" > "$WORK/sample.out"
cmp -s "$WORK/sample.out" "$WORK/bomb+sample_served-regions.out" ||
  { echo "bomb: the good files' answer differs from sample-data's"; exit 1; }
grep -q "max-file-size" "$WORK/bomb+sample_served-regions.err" ||
  { echo "bomb: no load error naming --max-file-size"; exit 1; }
echo "answers checked: every record of the big file; the sample's answer beside the bomb, which is a load error"
