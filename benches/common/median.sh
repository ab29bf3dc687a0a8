# Sourced by the benchmark scripts: `median NAME COMMAND...` runs COMMAND $RUNS times and prints
# the median wall time in seconds; the first run's stdout is kept in $WORK/out/NAME.out.
median() {
  local name="$1"; shift
  local times=()
  for i in $(seq "$RUNS"); do
    local start end
    start=$(date +%s.%N)
    if [ "$i" = 1 ]; then "$@" > "$WORK/out/$name.out"; else "$@" > /dev/null; fi
    end=$(date +%s.%N)
    times+=("$(echo "$end - $start" | bc -l)")
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"
}
