#!/usr/bin/env bash
# Kafka listener benchmark (issue 15), ratios against peers measured in the same run:
#
#   produce  librdkafka producer, acks=all, 200-byte records, into `cairn serve --kafka --sync
#            always`   vs   redis-benchmark XADD of the same bytes, appendfsync always, 64 clients
#   consume  librdkafka consumer of those records from the beginning (CRCs checked)
#            vs   a raw RocksDB scan of the same data dir's `log` family
#
# Every server is started here, on 127.0.0.1 and free ports, in a temporary directory, and
# stopped at the end. Nothing asserts a rate: the script prints rates, ratios and the targets
# (produce >= 2x, consume >= 0.3x). Needs build/bench/kafka_client (librdkafka-dev installed
# at setup), redis-server and redis-benchmark.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: bench/kafka_bench.sh [options]

  --cairn-bin PATH   the cairn binary (default: $CAIRN_BIN, else build/cairn)
  --client PATH      the librdkafka client (default: build/bench/kafka_client)
  --records N        records produced, consumed and XADDed (default 200000)
  --size B           record value bytes (default 200)
  --partitions P     partitions of the benchmark topic (default 8)
  --connections C    redis-benchmark clients (default 64)
  --rounds R         consume and scan the produced data R times, alternating, and print each
                     round and the median ratio (default 1)
  --no-redis         skip the produce peer (redis-benchmark): consume rounds only
  --dir D            parent of the temporary directory; its disk is the one fsync hits (default /tmp)
  --quick            --records 20000: a smoke run, not a measurement
  --keep             keep the temporary directory and print its path
  -h, --help         this text
USAGE
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
cairn_bin="${CAIRN_BIN:-$repo/build/cairn}"
client="$repo/build/bench/kafka_client"
records=200000
size=200
partitions=8
conns=64
rounds=1
redis=1
parent=/tmp
keep=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cairn-bin) cairn_bin="$2"; shift 2 ;;
    --client) client="$2"; shift 2 ;;
    --records) records="$2"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    --partitions) partitions="$2"; shift 2 ;;
    --connections) conns="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --no-redis) redis=0; shift ;;
    --dir) parent="$2"; shift 2 ;;
    --quick) records=20000; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

die() { echo "kafka_bench: $*" >&2; exit 2; }
for tool in "$cairn_bin" "$client"; do [[ -x "$tool" ]] || die "$tool is missing (meson compile -C build)"; done
for tool in redis-server redis-cli redis-benchmark python3; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install redis-server redis-tools python3)"
done

tmp="$(mktemp -d "$parent/cairn-kafka-bench.XXXXXX")"
cairn_pid=""
redis_pid=""
cleanup() {
  [[ -n "$cairn_pid" ]] && kill "$cairn_pid" 2>/dev/null && wait "$cairn_pid" 2>/dev/null
  [[ -n "$redis_pid" ]] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
  if [[ $keep -eq 1 ]]; then echo "# kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() {  # wait_for what seconds command...
  local what="$1" seconds="$2"; shift 2
  for _ in $(seq $((seconds * 20))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done
  die "$what did not start"
}
field() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }

echo "# kafka_bench $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cpus, $(uname -r), dir $parent;" \
     "$records records of $size bytes, $partitions partitions, redis-benchmark -c $conns"

# ---- Cairn: produce, then rounds of consume (a fresh server each) and the raw scan of the dir ----
kafka_port=$(free_port)
broker="127.0.0.1:$kafka_port"
start_cairn() {
  "$cairn_bin" serve --data "$tmp/data" --listen 127.0.0.1:0 --kafka "$broker" \
    --partitions "$partitions" --sync always --log-level warn >>"$tmp/cairn.log" 2>&1 &
  cairn_pid=$!
  wait_for "cairn serve --kafka" 30 python3 -c "import socket; socket.create_connection(('127.0.0.1', $kafka_port))"
}
stop_cairn() { kill "$cairn_pid"; wait "$cairn_pid" || true; cairn_pid=""; }
start_cairn
produced=$("$client" produce "$broker" bench "$records" "$size") || die "produce failed: $produced"
consume_ratios=()
for round in $(seq "$rounds"); do
  [[ -z "$cairn_pid" ]] && start_cairn
  consumed=$("$client" consume "$broker" bench "$records") || die "consume failed: $consumed"
  stop_cairn
  scanned=$("$client" scan "$tmp/data") || die "scan failed: $scanned"
  consume_rps=$(field rate "$consumed")
  scan_rps=$(field rate "$scanned")
  consume_ratios+=("$(ratio "$consume_rps" "$scan_rps")")
  if [[ $rounds -gt 1 ]]; then
    printf 'round %-2s consume cairn %9s rec/s   %-22s %9s rec/s   ratio %5s\n' \
      "$round" "$consume_rps" "rocksdb scan (log cf)" "$scan_rps" "${consume_ratios[-1]}"
  fi
done

# ---- Redis: XADD of the same bytes, appendfsync always ------------------------------------------
produce_rps=$(field rate "$produced")
if [[ $redis -eq 1 ]]; then
  redis_port=$(free_port)
  mkdir -p "$tmp/redis"
  redis-server --bind 127.0.0.1 --port "$redis_port" --appendonly yes --appendfsync always \
    --dir "$tmp/redis" --save '' --daemonize no --logfile "$tmp/redis/redis.log" >/dev/null 2>&1 &
  redis_pid=$!
  wait_for "redis-server" 10 redis-cli -h 127.0.0.1 -p "$redis_port" ping
  payload=$(head -c "$size" /dev/zero | tr '\0' 'v')
  redis-benchmark -h 127.0.0.1 -p "$redis_port" -c "$conns" -n "$records" -r 1000000000 --csv \
    XADD 'bench-__rand_int__' '*' data "$payload" >"$tmp/redis.csv" 2>&1 || die "redis-benchmark failed"
  redis_rps=$(tail -n 1 "$tmp/redis.csv" | tr -d '"\r' | awk -F, 'NF >= 8 { printf "%.0f", $(NF - 6) }')
  [[ -n "$redis_rps" ]] || die "could not read redis-benchmark's output"
  printf '%-8s cairn %9s rec/s   %-22s %9s rec/s   ratio %5s   (target >= 2)\n' \
    produce "$produce_rps" "redis XADD always" "$redis_rps" "$(ratio "$produce_rps" "$redis_rps")"
else
  printf '%-8s cairn %9s rec/s   (no peer run: --no-redis)\n' produce "$produce_rps"
fi
median=$(printf '%s\n' "${consume_ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
if [[ $rounds -gt 1 ]]; then
  printf '%-8s median ratio of %s rounds %5s   (target >= 0.3)\n' consume "$rounds" "$median"
else
  printf '%-8s cairn %9s rec/s   %-22s %9s rec/s   ratio %5s   (target >= 0.3)\n' \
    consume "$consume_rps" "rocksdb scan (log cf)" "$scan_rps" "$median"
fi
