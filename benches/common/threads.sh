# Sourced by the benchmark scripts: THREADS (default 2) threads for trailmap's decoding (rayon),
# its I/O (tokio) and DataFusion's partitions.
THREADS="${THREADS:-2}"
export RAYON_NUM_THREADS="$THREADS" TOKIO_WORKER_THREADS="$THREADS" \
  DATAFUSION_EXECUTION_TARGET_PARTITIONS="$THREADS"
