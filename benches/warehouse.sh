#!/usr/bin/env bash
# The Delta Lake warehouse against the raw archive it was ingested from, on the 500,000-event
# benchmark archive (the same one benches/compare.sh uses). Not a test: figures for docs/performance.md.
#
#   bash benches/warehouse.sh [EVENTS]      default 500000 (120 events per file, 30 days)
#
# Measures, on THREADS threads (default 2), median of RUNS runs (default 3; process start
# included everywhere):
#   - a raw scan of every column (`count(column)` of each of the 46 columns of `events`), the
#     yardstick of ingest: ingest decodes every column too, then sorts and writes Parquet;
#   - `trailmap ingest` into an empty warehouse;
#   - the named query served-regions over the raw archive and over the warehouse;
#   - the same query by DuckDB over the table's files as the `deltalake` package (delta-rs'
#     Python reader) lists them from the Delta log (answers compared);
#   - the size of the gzipped archive and of the warehouse (the files of the table's snapshot),
#     and the bytes of each column.
# Set COMPARE_DIR to keep the archive elsewhere than /tmp/trailmap-compare, and TRAILMAP_BIN to
# measure a binary already built. DuckDB comes from benches/.venv (made by benches/compare.sh);
# the pinned deltalake package is installed there if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/common/bench-archive.sh

. benches/common/median.sh

COLUMNS=$("$BIN" schema | awk '/^events:/ {on=1; next} /^$/ {on=0} on {print $1}')
EVERY_COLUMN="SELECT $(echo "$COLUMNS" | sed 's/.*/count(&)/' | paste -sd, -) FROM events"

RAW_SCAN=$(median raw-scan "$BIN" query -q -s "$ARCHIVE" --format csv "$EVERY_COLUMN")
ingest_fresh() { rm -rf "$WAREHOUSE"; "$BIN" ingest -q -s "$ARCHIVE" --into "$WAREHOUSE"; }
INGEST=$(median ingest ingest_fresh)
RAW_Q=$(median raw-query "$BIN" query -q -s "$ARCHIVE" --format csv served-regions)
WH_Q=$(median warehouse-query "$BIN" query -q -s "$WAREHOUSE" --format csv served-regions)
cmp -s "$WORK/out/raw-query.out" "$WORK/out/warehouse-query.out" || {
  echo "ANSWERS DIFFER: raw archive vs warehouse"; diff "$WORK/out/raw-query.out" "$WORK/out/warehouse-query.out" | head; exit 1; }
"$BIN" query -q -s "$WAREHOUSE" --format csv "$EVERY_COLUMN" | cmp -s - "$WORK/out/raw-scan.out" || {
  echo "ANSWERS DIFFER: every column, raw archive vs warehouse"; exit 1; }

DUCK_SQL="
  SELECT coalesce(served_region, 'unknown') AS served_region,
         coalesce(served_geography, 'unknown') AS served_geography,
         count(*) AS invocations,
         round(100.0 * count(*) / sum(count(*)) OVER (), 2) AS share_pct
  FROM read_parquet(\$FILES, hive_partitioning = false)
  WHERE is_invocation AND error_code IS NULL
  GROUP BY 1, 2 ORDER BY invocations DESC, served_region"
cat > "$WORK/duck-warehouse.py" <<PY
import duckdb
from deltalake import DeltaTable
files = DeltaTable("$WAREHOUSE").file_uris()
con = duckdb.connect()
con.execute("SET threads = $THREADS")
print("served_region,served_geography,invocations,share_pct")
for row in con.execute("""$DUCK_SQL""".replace("\$FILES", repr(files))).fetchall():
    print(",".join(str(v) for v in row))
PY
DELTALAKE_VERSION="1.6.6"
PYARROW_VERSION="26.0.1"
DUCK_Q=""
if [ -x benches/.venv/bin/python ]; then
  benches/.venv/bin/python -c "import importlib.metadata as m; assert m.version('deltalake') == '$DELTALAKE_VERSION' and m.version('pyarrow') == '$PYARROW_VERSION'" 2>/dev/null ||
    benches/.venv/bin/pip install --quiet --disable-pip-version-check "deltalake==$DELTALAKE_VERSION" "pyarrow==$PYARROW_VERSION"
  DUCK_Q=$(median duckdb benches/.venv/bin/python "$WORK/duck-warehouse.py")
  # DuckDB prints 19.0 where trailmap prints 19.00: compare the numbers.
  python3 - "$WORK/out/warehouse-query.out" "$WORK/out/duckdb.out" <<'PY' || { echo "ANSWERS DIFFER: trailmap vs DuckDB"; exit 1; }
import csv, sys
rows = [[(r[0], r[1], int(r[2]), round(float(r[3]), 2)) for r in list(csv.reader(open(p)))[1:]] for p in sys.argv[1:]]
sys.exit(0 if rows[0] == rows[1] else 1)
PY
fi

GZ_BYTES=$(find "$ARCHIVE" -name '*.json.gz' -path '*/CloudTrail/*' -print0 | du -cb --files0-from=- | tail -1 | cut -f1)
WH_BYTES=$(find "$WAREHOUSE/events" -name '*.parquet' -print0 | du -cb --files0-from=- | tail -1 | cut -f1)
LOG_BYTES=$(du -cb "$WAREHOUSE/_delta_log" | tail -1 | cut -f1)
PARQUET_FILES=$(find "$WAREHOUSE/events" -name '*.parquet' | wc -l)

echo "archive: $EVENTS events; $THREADS threads, $(nproc) cores; median of $RUNS runs, process start included"
echo "versions: $("$BIN" --version)$( [ -n "$DUCK_Q" ] && echo ", duckdb $(benches/.venv/bin/python -c 'import duckdb; print(duckdb.__version__)')")"
echo
printf "| %-52s | %8s | %s |\n" "what" "wall s" "ratio"
printf "|%s|%s|%s|\n" "------------------------------------------------------" "----------" "------------------------------"
printf "| %-52s | %8.3f | %s |\n" "raw scan of every column" "$RAW_SCAN" "1.00x"
printf "| %-52s | %8.3f | %s |\n" "trailmap ingest (empty warehouse)" "$INGEST" "$(printf '%.2f' "$(echo "$INGEST / $RAW_SCAN" | bc -l)")x the raw scan"
printf "| %-52s | %8.3f | %s |\n" "served-regions, raw archive" "$RAW_Q" "1.00x"
printf "| %-52s | %8.3f | %s |\n" "served-regions, warehouse" "$WH_Q" "$(printf '%.1f' "$(echo "$RAW_Q / $WH_Q" | bc -l)")x faster than raw"
[ -n "$DUCK_Q" ] && printf "| %-52s | %8.3f | %s |\n" "served-regions, DuckDB over the warehouse's Parquet" "$DUCK_Q" "$(printf '%.1f' "$(echo "$RAW_Q / $DUCK_Q" | bc -l)")x faster than raw"
echo
echo "size: gzipped archive $((GZ_BYTES / 1000000)) MB; warehouse $((WH_BYTES / 1000000)) MB in $PARQUET_FILES Parquet files ($(printf '%.2f' "$(echo "$WH_BYTES / $GZ_BYTES" | bc -l)")x), Delta log $((LOG_BYTES / 1000)) kB"
echo
echo "bytes per column (compressed, all row groups), largest first:"
if [ -x benches/.venv/bin/python ]; then benches/.venv/bin/python - "$WAREHOUSE" <<'PY'
import glob, sys
try:
    import pyarrow.parquet as pq
except ImportError:
    sys.exit(0)
sizes = {}
for path in glob.glob(sys.argv[1] + "/events/*/*.parquet"):
    meta = pq.ParquetFile(path).metadata
    for g in range(meta.num_row_groups):
        for c in range(meta.num_columns):
            col = meta.row_group(g).column(c)
            sizes[col.path_in_schema] = sizes.get(col.path_in_schema, 0) + col.total_compressed_size
total = sum(sizes.values())
for name, size in sorted(sizes.items(), key=lambda kv: -kv[1])[:15]:
    print(f"  {name:28s} {size / 1e6:8.2f} MB  {100 * size / total:5.1f}%")
PY
fi
