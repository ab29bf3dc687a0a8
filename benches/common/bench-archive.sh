# Sourced by the benchmark scripts on the generated archive (benches/warehouse.sh,
# benches/cluster.sh): settings, the binary ($BIN, see trailmap-bin.sh), the archive of $1 events
# (default 500,000: 120 events per file over 30 days; made once under $WORK) in the page cache.
#   THREADS (default 2) threads, RUNS (default 3) runs, COMPARE_DIR (default /tmp/trailmap-compare)
EVENTS="${1:-500000}"
RUNS="${RUNS:-3}"
WORK="${COMPARE_DIR:-/tmp/trailmap-compare}"
ARCHIVE="$WORK/archive-$EVENTS"
WAREHOUSE="$WORK/warehouse-$EVENTS"
. benches/common/threads.sh

. benches/common/trailmap-bin.sh
if [ ! -d "$ARCHIVE" ]; then
  "$BIN" generate -o "$ARCHIVE" --events "$EVENTS" --events-per-file 120 --days 30 >/dev/null 2>&1
fi
mkdir -p "$WORK/out"
find "$ARCHIVE" -type f -print0 | xargs -0 cat >/dev/null # warm the page cache
