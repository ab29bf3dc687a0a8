#!/usr/bin/env bash
# trailmap side by side with ClickHouse (chdb), DuckDB and `gzip -dc`, on the same archive and
# the same question: the distribution of the logged `additionalEventData.inferenceRegion` of
# Bedrock runtime invocations ('none' when not logged). Every engine's answer is checked against
# trailmap's; then a table of wall times, ratios and peak RSS. (trailmap's own `served_region`
# also resolves application profiles from CreateInferenceProfile events, which the other
# engines would need a join for; `cargo bench --bench scan` times that query.)
#
#   bash benches/compare.sh [EVENTS] [THREADS]      (defaults: 500000 events, 2 threads)
#
# Every engine runs RUNS times (default 3); the table shows the run of median wall time.
# Installs the pinned chdb and duckdb into benches/.venv (PyPI) if missing or of another
# version; builds trailmap --release.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS="${1:-500000}"
THREADS="${2:-2}"
WORK="${COMPARE_DIR:-/tmp/trailmap-compare}"
ARCHIVE="$WORK/archive-$EVENTS"
VENV="benches/.venv"
RUNS="${RUNS:-3}"
CHDB_VERSION="4.4.0"
DUCKDB_VERSION="2.0.1"
. benches/common/threads.sh

cargo build --release --quiet
BIN="target/release/trailmap"
if [ ! -d "$ARCHIVE" ]; then
  "$BIN" generate -o "$ARCHIVE" --events "$EVENTS" --events-per-file 120 --days 30 >/dev/null 2>&1
fi
PY="$VENV/bin/python"
pinned() { "$PY" -c "import importlib.metadata as m; assert m.version('chdb') == '$CHDB_VERSION' and m.version('duckdb') == '$DUCKDB_VERSION'" 2>/dev/null; }
if [ ! -x "$PY" ] || ! pinned; then
  [ -x "$PY" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "chdb==$CHDB_VERSION" "duckdb==$DUCKDB_VERSION"
fi
mkdir -p "$WORK/out"
find "$ARCHIVE" -name '*.json.gz' -path '*/CloudTrail/*' | sort > "$WORK/files.txt"
FILES=$(wc -l < "$WORK/files.txt")
GZ_MB=$(du -cm $(cat "$WORK/files.txt") | tail -1 | cut -f1)
cat "$WORK/files.txt" | xargs gzip -dc | wc -c > "$WORK/json_bytes"
JSON_MB=$(( $(cat "$WORK/json_bytes") / 1000000 ))

INVOKE="'InvokeModel','InvokeModelWithResponseStream','Converse','ConverseStream','InvokeModelWithBidirectionalStream','StartAsyncInvoke'"
TRAILMAP_SQL="SELECT coalesce(inference_region, 'none') AS served_region, count(*) AS n FROM events WHERE event_source = 'bedrock.amazonaws.com' AND event_name IN ($INVOKE) GROUP BY 1 ORDER BY 1"
CH_SQL="SELECT if(JSONExtractString(r, 'additionalEventData', 'inferenceRegion') = '', 'none', JSONExtractString(r, 'additionalEventData', 'inferenceRegion')) AS served_region, count() AS n FROM file('$ARCHIVE/AWSLogs/**/*.json.gz', 'RawBLOB') ARRAY JOIN JSONExtractArrayRaw(raw_blob, 'Records') AS r WHERE JSONExtractString(r, 'eventSource') = 'bedrock.amazonaws.com' AND JSONExtractString(r, 'eventName') IN ($INVOKE) GROUP BY served_region ORDER BY served_region SETTINGS max_threads = $THREADS"

cat > "$WORK/duck.py" <<PY
import duckdb, sys
files = [l.strip() for l in open("$WORK/files.txt")]
con = duckdb.connect()
con.execute("SET threads = $THREADS")
rows = con.execute("""
  SELECT coalesce(json_extract_string(r.additionalEventData, '$.inferenceRegion'), 'none') AS served_region, count(*) AS n
  FROM (SELECT unnest(Records) AS r FROM read_json(?, format = 'auto', maximum_object_size = 268435456,
        columns = {'Records': 'STRUCT(eventSource VARCHAR, eventName VARCHAR, awsRegion VARCHAR, additionalEventData JSON)[]'}))
  WHERE r.eventSource = 'bedrock.amazonaws.com' AND r.eventName IN ($INVOKE)
  GROUP BY 1 ORDER BY 1""", [files]).fetchall()
for region, n in rows:
    print(f"{region},{n}")
PY
cat > "$WORK/ch.py" <<PY
import chdb, sys
print(chdb.query(sys.argv[1], "CSV").bytes().decode().replace('"', ''), end="")
PY

# name, command (stdout: "region,count" lines): RUNS runs, the median one's "secs KB" kept in
# $name.time, the answer of the first in $name.csv.
run() {
  local name="$1"; shift
  rm -f "$WORK/out/$name.time".*
  for i in $(seq "$RUNS"); do
    /usr/bin/time -f "%e %M" -o "$WORK/out/$name.time.$i" "$@" > "$WORK/out/$name.raw" 2> "$WORK/out/$name.err" || {
      echo "$name failed:"; cat "$WORK/out/$name.err"; exit 1; }
    [ "$i" = 1 ] && { grep -v '^served_region' "$WORK/out/$name.raw" | sort > "$WORK/out/$name.csv" || true; }
  done
  cat "$WORK/out/$name.time".* | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p" > "$WORK/out/$name.time"
  echo "$name: $(cut -d' ' -f1 "$WORK/out/$name.time".* | sort -n | tr '\n' ' ')s; median kept" >&2
}
run trailmap "$BIN" query -q -s "$ARCHIVE" --format csv "$TRAILMAP_SQL"
run clickhouse "$PY" "$WORK/ch.py" "$CH_SQL"
run duckdb "$PY" "$WORK/duck.py"
run gzip sh -c "xargs gzip -dc < '$WORK/files.txt' > /dev/null"

for engine in clickhouse duckdb; do
  if ! cmp -s "$WORK/out/trailmap.csv" "$WORK/out/$engine.csv"; then
    echo "ANSWERS DIFFER: trailmap vs $engine"; diff "$WORK/out/trailmap.csv" "$WORK/out/$engine.csv" | head; exit 1
  fi
done
echo "answers agree ($(wc -l < "$WORK/out/trailmap.csv") served Regions, $(awk -F, '{s+=$2} END {print s}' "$WORK/out/trailmap.csv") invocations)"
echo "archive: $EVENTS events, $FILES files, $GZ_MB MB gzipped, $JSON_MB MB JSON; $THREADS threads; $(nproc) cores; median of $RUNS runs"
echo "versions: $("$BIN" --version), chdb $CHDB_VERSION, duckdb $DUCKDB_VERSION"
echo
TM=$(cut -d' ' -f1 "$WORK/out/trailmap.time")
printf "| %-26s | %8s | %12s | %12s |\n" "engine" "wall s" "vs trailmap" "peak RSS MB"
printf "|%s|%s|%s|%s|\n" "----------------------------" "----------" "--------------" "--------------"
for engine in trailmap clickhouse duckdb gzip; do
  read -r secs kb < "$WORK/out/$engine.time"
  label="$engine"
  [ "$engine" = clickhouse ] && label="ClickHouse (chdb)"
  [ "$engine" = duckdb ] && label="DuckDB"
  [ "$engine" = gzip ] && label="gzip -dc (1 thread)"
  printf "| %-26s | %8.2f | %11.2fx | %12d |\n" "$label" "$secs" "$(echo "$secs / $TM" | bc -l)" "$((kb / 1024))"
done
echo
echo "trailmap decoded $(echo "$JSON_MB / $TM / $THREADS" | bc -l | xargs printf '%.0f') MB/s of JSON per core"
