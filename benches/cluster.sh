#!/usr/bin/env bash
# trailmap on a Ballista cluster on this machine, against the single process, on the
# 500,000-event benchmark archive (the one benches/compare.sh uses). Not a test: figures for
# docs/performance.md.
#
#   bash benches/cluster.sh [EVENTS]      default 500000 (120 events per file, 30 days)
#
# Starts `trailmap scheduler` and executors on 127.0.0.1 and measures, median of RUNS runs
# (default 3), process start included: the named query served-regions over the raw archive and
# over its warehouse (made by benches/warehouse.sh, or here) by
#   - the single process on THREADS threads (default 2),
#   - 1 executor running THREADS tasks at once,
#   - 2 executors running THREADS/2 tasks at once each (the same cores, split in two processes);
# and `trailmap ingest` into an empty warehouse by the single process and with 1 executor.
# Every answer is compared with the single process's. Set TRAILMAP_BIN to measure a binary
# already built with `--features cluster`; otherwise it is built here.
set -euo pipefail
cd "$(dirname "$0")/.."
FEATURES=cluster
. benches/common/bench-archive.sh
[ -d "$WAREHOUSE" ] || "$BIN" ingest -q -s "$ARCHIVE" --into "$WAREHOUSE"

PIDS=()
stop_cluster() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; PIDS=(); }
trap stop_cluster EXIT

# Starts a scheduler on port $1 and $2 executors running $3 tasks at once each.
start_cluster() {
  local port="$1" executors="$2" tasks="$3"
  RAYON_NUM_THREADS="$THREADS" "$BIN" -q scheduler --bind "127.0.0.1:$port" &
  PIDS+=($!)
  for i in $(seq "$executors"); do
    RAYON_NUM_THREADS="$tasks" TOKIO_WORKER_THREADS="$tasks" \
      "$BIN" -q executor --scheduler "127.0.0.1:$port" --bind "127.0.0.1:$((port + 10 * i))" \
      --concurrency "$tasks" &
    PIDS+=($!)
  done
  sleep 3
  # Executors join on their first poll: a first query warms them up (not timed).
  "$BIN" query -q --cluster "df://127.0.0.1:$port" -s "$WAREHOUSE" "SELECT count(*) FROM events" >/dev/null
}

. benches/common/median.sh

same() {
  cmp -s "$WORK/out/$1.out" "$WORK/out/$2.out" || { echo "ANSWERS DIFFER: $1 vs $2"; diff "$WORK/out/$1.out" "$WORK/out/$2.out" | head; exit 1; }
}

RAW_1=$(median local-raw "$BIN" query -q -s "$ARCHIVE" --format csv served-regions)
WH_1=$(median local-wh "$BIN" query -q -s "$WAREHOUSE" --format csv served-regions)
INGESTED="$WORK/cluster-ingest-$EVENTS"
ingest_fresh() { rm -rf "$INGESTED"; "$BIN" ingest -q -s "$ARCHIVE" --into "$INGESTED" "$@"; }
INGEST_1=$(median local-ingest ingest_fresh)

start_cluster 50300 1 "$THREADS"
RAW_C1=$(median c1-raw "$BIN" query -q --cluster df://127.0.0.1:50300 -s "$ARCHIVE" --format csv served-regions)
WH_C1=$(median c1-wh "$BIN" query -q --cluster df://127.0.0.1:50300 -s "$WAREHOUSE" --format csv served-regions)
INGEST_C1=$(median c1-ingest ingest_fresh --cluster df://127.0.0.1:50300)
"$BIN" query -q -s "$INGESTED" --format csv served-regions > "$WORK/out/c1-ingested.out"
stop_cluster

HALF=$(( THREADS / 2 > 0 ? THREADS / 2 : 1 ))
start_cluster 50400 2 "$HALF"
RAW_C2=$(median c2-raw "$BIN" query -q --cluster df://127.0.0.1:50400 -s "$ARCHIVE" --format csv served-regions)
WH_C2=$(median c2-wh "$BIN" query -q --cluster df://127.0.0.1:50400 -s "$WAREHOUSE" --format csv served-regions)
stop_cluster

for run in c1-raw c2-raw; do same local-raw "$run"; done
for run in local-wh c1-wh c2-wh c1-ingested; do same local-raw "$run"; done

OBJECTS=$(find "$ARCHIVE" -name '*.json.gz' -path '*/CloudTrail/*' | wc -l)
GZ_BYTES=$(find "$ARCHIVE" -name '*.json.gz' -path '*/CloudTrail/*' -print0 | du -cb --files0-from=- | tail -1 | cut -f1)
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }
echo "archive: $EVENTS events in $OBJECTS objects ($((GZ_BYTES / 1000000)) MB gzipped); $THREADS threads, $(nproc) cores; median of $RUNS runs, process start included"
echo "versions: $("$BIN" --version)"
echo
printf "| %-44s | %10s | %10s |\n" "served-regions" "raw s" "warehouse s"
printf "|%s|%s|%s|\n" "----------------------------------------------" "------------" "------------"
printf "| %-44s | %10.3f | %10.3f |\n" "single process, $THREADS threads" "$RAW_1" "$WH_1"
printf "| %-44s | %10.3f | %10.3f |\n" "cluster: 1 executor x $THREADS tasks" "$RAW_C1" "$WH_C1"
printf "| %-44s | %10.3f | %10.3f |\n" "cluster: 2 executors x $HALF task(s)" "$RAW_C2" "$WH_C2"
echo
echo "ingest into an empty warehouse: single process $(printf '%.3f' "$INGEST_1") s, cluster (1 executor x $THREADS tasks) $(printf '%.3f' "$INGEST_C1") s"
echo "cluster / single process, raw: 1 executor $(ratio "$RAW_C1" "$RAW_1")x, 2 executors $(ratio "$RAW_C2" "$RAW_1")x"
echo "single process throughput: $(printf '%.0f' "$(echo "$EVENTS / $RAW_1 / $THREADS" | bc -l)") events/s per core, $(printf '%.1f' "$(echo "$GZ_BYTES / $RAW_1 / $THREADS / 1000000" | bc -l)") MB/s gzipped per core (raw archive, start included)"
