#!/usr/bin/env bash
# HTTP benchmark: Cairn's API against peers doing the equivalent work, on this machine, on
# loopback, with the same client settings. See bench/http/README.md.
#
#   get_order      GET /api/orders/{id}               vs nginx serving the same bytes as a file
#   append_durable POST /api/streams/{stream} (1 ev)  vs redis-benchmark XADD, appendfsync always
#   create_order   POST /api/orders                   vs pgbench INSERT into an events table,
#                                                        synchronous_commit on
#
# Every server is started here, in a temporary directory, on 127.0.0.1 and free ports, and
# stopped at the end. Nothing asserts a rate: the script prints rates, ratios and targets.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/http_bench.sh [options]

  --cairn-bin PATH   the cairn binary (default: $CAIRN_BIN, else build/cairn)
  --duration S       seconds of each timed run (default 10)
  --warmup S         seconds of untimed load before each timed run (default 2)
  --connections C    concurrent connections / clients on every side (default 64)
  --threads T        wrk threads and pgbench -j (default: nproc, at least 2)
  --rounds R         rounds per workload; both sides run in each, which goes first alternates;
                     the median rate of each side is printed (default 1)
  --dir D            parent of the temporary directory; its disk is the one fsync hits (default /tmp)
  --only W           run only workloads whose name starts with W (get, append, create)
  --sync MODE        cairn --sync for the write workloads: always, batch or none (default always)
  --access-log on|off  on: Cairn logs at its default level (one access-log line per request)
                     and nginx writes an access log; off: cairn --log-level warn, access_log off
                     (default on)
  --keep             keep the temporary directory (logs, wrk output, data) and print its path
  --verbose          also print every round
  -h, --help         this text
EOF
}

args="$*"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"

duration=10
warmup=2
conns=64
threads=""
rounds=1
parent=/tmp
only=""
sync_mode=always
access_log=on
keep=0
verbose=0
cairn_bin="${CAIRN_BIN:-}"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --cairn-bin) cairn_bin="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --connections) conns="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --dir) parent="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --sync) sync_mode="$2"; shift 2 ;;
    --access-log) access_log="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    --verbose) verbose=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "http_bench: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done

die() { echo "http_bench: $*" >&2; exit 1; }
note() { echo "http_bench: $*" >&2; }

for v in duration warmup conns rounds; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "--${v} must be a whole number"
done
[[ $duration -ge 1 && $conns -ge 1 && $rounds -ge 1 ]] || die "--duration, --connections and --rounds must be >= 1"
case "$sync_mode" in always|batch|none) ;; *) die "--sync must be always, batch or none" ;; esac
case "$access_log" in on|off) ;; *) die "--access-log must be on or off" ;; esac
if [[ -z "$threads" ]]; then
  threads=$(nproc)
  [[ $threads -ge 2 ]] || threads=2
fi
[[ $threads -le $conns ]] || threads=$conns

if [[ -z "$cairn_bin" ]]; then
  cairn_bin="$repo/build/cairn"  # where the top-level meson.build puts it
  [[ -x "$cairn_bin" || ! -x "$repo/build/src/cli/cairn" ]] || cairn_bin="$repo/build/src/cli/cairn"
fi
[[ -x "$cairn_bin" ]] || die "no cairn binary at $cairn_bin (build it: meson compile -C build cairn; or pass --cairn-bin / CAIRN_BIN)"
cairn_bin="$(cd "$(dirname "$cairn_bin")" && pwd)/$(basename "$cairn_bin")"

for tool in wrk curl nginx redis-server redis-cli redis-benchmark pgbench python3; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install wrk curl nginx-light redis-server redis-tools postgresql postgresql-contrib)"
done
pg_bindir="${PG_BINDIR:-}"
if [[ -z "$pg_bindir" ]]; then
  pg_bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [[ -n "$pg_bindir" ]] || pg_bindir="$(dirname "$(command -v initdb || echo /usr/bin/initdb)")"
fi
for tool in initdb pg_ctl psql; do
  [[ -x "$pg_bindir/$tool" ]] || die "$tool not found in $pg_bindir (set PG_BINDIR)"
done

selected() { [[ -z "$only" || "$1" == "$only"* ]]; }

# ---- the temporary directory and cleanup ------------------------------------------------------

tmp="$(mktemp -d "$parent/cairn-http-bench-XXXXXX")"
chmod 755 "$tmp"  # the PostgreSQL server runs as postgres, nginx workers as nobody
mkdir -p "$tmp/logs"

cairn_pid=""
redis_pid=""
nginx_pid_file=""
pg_data=""
pg_started=0

stop_pid() {  # pid [seconds]: SIGTERM, then SIGKILL after the grace period
  local pid="$1" grace="${2:-30}" i
  [[ -n "$pid" ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < grace * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    note "pid $pid did not stop in ${grace}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

as_pg() {  # runs a PostgreSQL server tool as the postgres user when we are root
  if [[ $(id -u) -eq 0 ]]; then (cd "$tmp" && runuser -u postgres -- "$@"); else "$@"; fi
}

cleanup() {
  local rc=$?
  set +e
  [[ -n "$cairn_pid" ]] && stop_pid "$cairn_pid"
  [[ -n "$redis_pid" ]] && stop_pid "$redis_pid"
  if [[ -n "$nginx_pid_file" && -s "$nginx_pid_file" ]]; then stop_pid "$(cat "$nginx_pid_file")" 10; fi
  if [[ $pg_started -eq 1 ]]; then as_pg "$pg_bindir/pg_ctl" -D "$pg_data" -m fast -w stop >/dev/null 2>&1; fi
  if [[ $keep -eq 1 ]]; then
    note "kept $tmp"
  else
    rm -rf "$tmp"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for() {  # description, seconds, command...: retries the command every 0.1 s
  local what="$1" seconds="$2" i
  shift 2
  for ((i = 0; i < seconds * 10; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  die "$what did not come up in ${seconds}s"
}

median() {  # numbers... -> the middle one (lower middle for an even count)
  printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'
}

# Machine-wide count of connections dropped because a listen queue was full (a SYN or the
# final ACK is dropped and retransmitted 1 s, 3 s, ... later: seconds of latency for the
# client). nginx and Redis listen with a backlog of 511; cpp-httplib's default is 5.
listen_overflows() {
  awk '/^TcpExt:/ { if (!c) { for (i = 1; i <= NF; i++) if ($i == "ListenOverflows") c = i }
                    else { print $c; exit } }' /proc/net/netstat
}
clk_tck=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# timed_cairn_wrk label url [wrk args...]: run_wrk on the Cairn server, also setting c_cores
# (CPUs the server used on average during the run) and c_overflows (listen-queue overflows)
timed_cairn_wrk() {
  local label="$1" url="$2" t0 o0
  shift 2
  t0=$(cpu_ticks "$cairn_pid")
  o0=$(listen_overflows)
  run_wrk "$label" "$duration" "$url" "$@"
  c_overflows=$(( $(listen_overflows) - o0 ))
  c_cores=$(awk -v t=$(( $(cpu_ticks "$cairn_pid") - t0 )) -v hz="$clk_tck" -v d="$duration" \
    'BEGIN { printf "%.2f", t / hz / d }')
}

# ---- payloads ---------------------------------------------------------------------------------

# A 200-byte order-like JSON document: the event data of the append workload, the XADD value
# and the PostgreSQL row's jsonb.
payload_head='{"orderId":"ord-7f3a9c2e","userId":"u-1042","items":[{"productId":"p-1","name":"Keyboard","price":39000,"quantity":2}],"totalAmount":78000,"currency":"KRW","note":"'
payload_pad=$(printf '%*s' $((200 - ${#payload_head} - 2)) '' | tr ' ' 'x')
payload="$payload_head$payload_pad\"}"
order_body='{"items":[{"productId":"p-1","name":"Keyboard","price":39000,"quantity":2}],"shippingAddress":{"street":"1 Main St","city":"Seoul","zipCode":"06236","country":"KR"}}'
append_body="{\"topic\":\"bench-events\",\"expectedVersion\":\"any\",\"events\":[{\"type\":\"BENCH_EVENT\",\"data\":$payload}]}"
printf '%s' "$order_body" >"$tmp/order_body.json"
printf '%s' "$append_body" >"$tmp/append_body.json"

admin_token="bench-admin-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
service_token="bench-service-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
cat >"$tmp/tokens.json" <<EOF
[{"token": "$admin_token", "user": "bench-admin", "role": "admin"},
 {"token": "$service_token", "user": "bench-service", "role": "service"}]
EOF
chmod 600 "$tmp/tokens.json"

# ---- wrk --------------------------------------------------------------------------------------

to_ms() {  # wrk duration ("812.00us", "1.23ms", "2.01s", "1.50m") -> milliseconds
  awk -v t="$1" 'BEGIN {
    v = t + 0; u = t; sub(/^[0-9.]+/, "", u)
    if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000
    printf "%.2f", v }'
}

# run_wrk label seconds url [wrk args...]: sets w_rps, w_p50, w_p99 (ms), w_bad (non-2xx/3xx
# responses plus socket errors) and keeps wrk's output in logs/<label>.wrk
run_wrk() {
  local label="$1" seconds="$2" url="$3" out
  shift 3
  out="$tmp/logs/$label.wrk"
  wrk -t "$threads" -c "$conns" -d "${seconds}s" --timeout 10s --latency "$@" "$url" >"$out" 2>&1 ||
    die "wrk failed ($label): $(tail -n 3 "$out")"
  w_rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$out")
  w_p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
  w_p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
  local non2xx sockerr
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
  sockerr=$(awk -F'[ ,]+' '/Socket errors:/ {print $4 + $6 + $8 + $10}' "$out")
  w_bad=$(( ${non2xx:-0} + ${sockerr:-0} ))
  [[ -n "$w_rps" ]] || die "could not read wrk's output ($out)"
}

# ---- Cairn ------------------------------------------------------------------------------------

cairn_runs=0
cairn_port=""
cairn_url=""

start_cairn() {  # sync mode
  cairn_runs=$((cairn_runs + 1))
  local data="$tmp/cairn-$cairn_runs" log="$tmp/logs/cairn-$cairn_runs.log"
  local -a extra=()
  [[ "$access_log" == off ]] && extra=(--log-level warn)
  cairn_port=$(free_port)
  cairn_url="http://127.0.0.1:$cairn_port"
  # --rate-limit 0: the benchmark is one token at full speed, which the per-token limit exists
  # to stop.
  "$cairn_bin" serve --data "$data" --listen "127.0.0.1:$cairn_port" --tokens "$tmp/tokens.json" \
    --sync "$1" --rate-limit 0 "${extra[@]}" 2>"$log" >&2 &
  cairn_pid=$!
  local i
  for ((i = 0; i < 300; i++)); do
    if curl -fsS -o /dev/null "$cairn_url/healthz" 2>/dev/null; then return 0; fi
    kill -0 "$cairn_pid" 2>/dev/null || { cairn_pid=""; die "cairn serve exited at start: $(tail -n 5 "$log")"; }
    sleep 0.1
  done
  die "cairn serve did not answer /healthz in 30s: $(tail -n 5 "$log")"
}

# stop_cairn: saves /metrics, stops the server, sets c_status (requests by status on the routes
# the benchmark used), c_groups (appends / group commits / fsyncs) and c_exit
stop_cairn() {
  local metrics="$tmp/logs/cairn-$cairn_runs.metrics" log="$tmp/logs/cairn-$cairn_runs.log"
  c_exit=""
  c_logged=""
  curl -fsS "$cairn_url/metrics" >"$metrics" 2>/dev/null || : >"$metrics"
  c_status=$(awk '/^cairn_http_requests_total\{/ {
      if ($0 ~ /route="\/(metrics|healthz)"/) next
      match($0, /status="[0-9]+"/); s = substr($0, RSTART + 8, RLENGTH - 9); n[s] += $NF }
    END { for (s in n) printf "%s:%d\n", s, n[s] }' "$metrics" | sort -n | paste -sd ' ')
  c_groups=$(awk '$1 == "cairn_log_appends_total" {a = $2} $1 == "cairn_log_group_commits_total" {g = $2}
    $1 == "cairn_log_fsyncs_total" {f = $2}
    END { if (g > 0) printf "appends %d, group commits %d (%.1f per group), fsyncs %d", a, g, a / g, f }' "$metrics")
  local pid="$cairn_pid"
  cairn_pid=""
  if ! kill -0 "$pid" 2>/dev/null; then
    c_exit="died during the run"
    wait "$pid" 2>/dev/null || true
    return
  fi
  kill -TERM "$pid"
  local i
  for ((i = 0; i < 300; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    c_exit="did not stop in 30s after SIGTERM"
  fi
  local rc=0
  wait "$pid" 2>/dev/null || rc=$?
  [[ -n "${c_exit:-}" ]] || c_exit=$([[ $rc -eq 0 ]] && echo "exit 0" || echo "exit $rc")
  # Errors the server logged (never the access log lines).
  c_logged=$(grep -E '\[(error|critical|warning)\]' "$log" | grep -v '\] http ' | head -n 3 || true)
}

c_exit=""
c_logged=""
c_status=""
c_groups=""
c_cores=""
c_overflows=0
cairn_errors=""  # collects problems seen on the Cairn side, printed at the end

check_cairn_run() {  # workload round: records a non-clean stop, errors and 5xx
  local w="$1" r="$2"
  [[ "$c_exit" == "exit 0" ]] || cairn_errors+="$w round $r: cairn serve $c_exit"$'\n'
  [[ -z "${c_logged:-}" ]] || cairn_errors+="$w round $r: cairn logged: ${c_logged//$'\n'/ | }"$'\n'
  if [[ " $c_status" =~ \ 5[0-9][0-9]: || " $c_status" =~ \ 4[0-9][0-9]: ]]; then
    cairn_errors+="$w round $r: non-2xx responses by status: $c_status"$'\n'
  fi
  if [[ ${c_overflows:-0} -gt 0 ]]; then
    cairn_errors+="$w round $r: $c_overflows listen-queue overflows (machine-wide TcpExt ListenOverflows) during the timed run: connections waited for a SYN/ACK retransmit"$'\n'
  fi
  c_exit=""
  c_logged=""
}

# ---- nginx ------------------------------------------------------------------------------------

nginx_port=""
start_nginx() {
  local d="$tmp/nginx"
  mkdir -p "$d/www" "$d/temp"
  chmod -R a+rX "$d"
  nginx_port=$(free_port)
  local log_line="access_log $d/access.log;"
  [[ "$access_log" == off ]] && log_line="access_log off;"
  cat >"$d/nginx.conf" <<EOF
worker_processes auto;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 1024; }
http {
  default_type application/json;
  $log_line
  sendfile on;
  keepalive_requests 10000;
  client_body_temp_path $d/temp/body;
  proxy_temp_path $d/temp/proxy;
  fastcgi_temp_path $d/temp/fastcgi;
  uwsgi_temp_path $d/temp/uwsgi;
  scgi_temp_path $d/temp/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    root $d/www;
  }
}
EOF
  nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log" -t >"$tmp/logs/nginx-t.log" 2>&1 ||
    die "nginx rejects its config: $(tail -n 3 "$tmp/logs/nginx-t.log")"
  nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log" || die "nginx did not start: $(tail -n 3 "$d/error.log")"
  nginx_pid_file="$d/nginx.pid"
  wait_for "nginx" 10 test -s "$nginx_pid_file"
}

# ---- Redis ------------------------------------------------------------------------------------

redis_runs=0
redis_port=""
start_redis() {
  redis_runs=$((redis_runs + 1))
  local d="$tmp/redis-$redis_runs"
  mkdir -p "$d"
  redis_port=$(free_port)
  redis-server --bind 127.0.0.1 --port "$redis_port" --appendonly yes --appendfsync always \
    --dir "$d" --save '' --daemonize no --logfile "$d/redis.log" >/dev/null 2>&1 &
  redis_pid=$!
  wait_for "redis-server" 10 redis-cli -h 127.0.0.1 -p "$redis_port" ping
}
stop_redis() {
  local pid="$redis_pid"
  redis_pid=""
  stop_pid "$pid" 30
}

# run_redis_bench label n: sets r_rps, r_p50, r_p99 (ms)
run_redis_bench() {
  local label="$1" n="$2" out="$tmp/logs/$1.redis"
  redis-benchmark -h 127.0.0.1 -p "$redis_port" -c "$conns" -n "$n" -r 1000000000 --csv \
    XADD 'bench-__rand_int__' '*' data "$payload" >"$out" 2>&1 || die "redis-benchmark failed: $(tail -n 3 "$out")"
  # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
  # The test name holds the unescaped payload: read the 7 numbers from the end of the last line.
  r_rps=""
  read -r r_rps r_p50 r_p99 < <(tail -n 1 "$out" | tr -d '"\r' |
    awk -F, 'NF >= 8 { printf "%.0f %.2f %.2f\n", $(NF - 6), $(NF - 3), $(NF - 1) }') || true
  [[ -n "${r_rps:-}" ]] || die "could not read redis-benchmark's output ($out)"
}

# ---- PostgreSQL -------------------------------------------------------------------------------

pg_port=""
start_postgres() {
  pg_data="$tmp/pg/data"
  mkdir -p "$tmp/pg/sock" "$tmp/pg/log"
  [[ $(id -u) -ne 0 ]] || chown -R postgres: "$tmp/pg"
  as_pg "$pg_bindir/initdb" -D "$pg_data" -U postgres -A trust -E UTF8 --locale=C >"$tmp/logs/initdb.log" 2>&1 ||
    die "initdb failed: $(tail -n 3 "$tmp/logs/initdb.log")"
  pg_port=$(free_port)
  cat >>"$pg_data/postgresql.conf" <<EOF
# http_bench.sh
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$tmp/pg/sock'
max_connections = $((conns + 20))
fsync = on
synchronous_commit = on
full_page_writes = on
EOF
  as_pg "$pg_bindir/pg_ctl" -D "$pg_data" -l "$tmp/pg/log/postgres.log" -w -t 60 start >/dev/null ||
    die "PostgreSQL did not start: $(tail -n 5 "$tmp/pg/log/postgres.log")"
  pg_started=1
  psql_bench postgres -c "CREATE DATABASE bench" >/dev/null
  psql_bench bench -c "CREATE TABLE events (
      id bigserial PRIMARY KEY,
      stream text NOT NULL,
      type text NOT NULL,
      data jsonb NOT NULL,
      ts timestamptz NOT NULL DEFAULT now())" >/dev/null
  cat >"$tmp/pg/insert.sql" <<EOF
\\set n random(1, 1000000000)
INSERT INTO events (stream, type, data) VALUES ('order-' || :n, 'ORDER_CREATED', '$payload');
EOF
}
psql_bench() {  # database, psql args...
  local db="$1"
  shift
  "$pg_bindir/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres -d "$db" "$@"
}

pg_runs=0
# run_pgbench label seconds: sets p_rps (tps without connection time), p_p50, p_p99 (ms),
# p_bad (failed transactions)
run_pgbench() {
  local label="$1" seconds="$2" out="$tmp/logs/$1.pgbench"
  pg_runs=$((pg_runs + 1))
  local logdir="$tmp/pg/txlog-$pg_runs"
  mkdir -p "$logdir"
  local pgbench=pgbench
  [[ -x "$pg_bindir/pgbench" ]] && pgbench="$pg_bindir/pgbench"
  (cd "$logdir" && "$pgbench" -h 127.0.0.1 -p "$pg_port" -U postgres -n -c "$conns" -j "$threads" \
    -T "$seconds" -f "$tmp/pg/insert.sql" -l --log-prefix="$logdir/tx" bench) >"$out" 2>&1 ||
    die "pgbench failed: $(tail -n 3 "$out")"
  p_rps=$(awk '/^tps = / {printf "%.0f", $3; exit}' "$out")
  p_bad=$(awk '/number of failed transactions:/ {print $5; exit}' "$out")
  p_bad=${p_bad:-0}
  p_p50=nan p_p99=nan
  read -r p_p50 p_p99 < <(cat "$logdir"/tx.* | awk '{print $3}' | sort -n |
    awk '{a[NR] = $1} END {
      if (NR == 0) { print "nan nan"; exit }
      i50 = int(NR * 0.50); if (i50 < 1) i50 = 1; i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
      printf "%.2f %.2f\n", a[i50] / 1000, a[i99] / 1000 }') || true
  rm -rf "$logdir"
  grep -q 'number of transactions actually processed' "$out" || die "could not read pgbench's output ($out)"
  p_rps=${p_rps:-0}  # no tps line when nothing committed (a short warm-up on a busy machine)
}
pg_reset() {
  psql_bench bench -c "TRUNCATE events RESTART IDENTITY" -c "CHECKPOINT" >/dev/null
}

# ---- header -----------------------------------------------------------------------------------

fs_of() { df -PT "$1" | awk 'NR == 2 {print $2 " (" $1 ")"}'; }
cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
echo "# http_bench $(date -u '+%Y-%m-%d %H:%M:%S') UTC"
echo "# command: bench/http_bench.sh $args"
echo "# machine: $(nproc) CPUs, ${cpu_model:-unknown CPU}, $(uname -sr)"
echo "# data dirs: $tmp on $(fs_of "$tmp")"
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (shared machine: figures are noisy)"
echo "# cairn: $cairn_bin ($("$cairn_bin" --version 2>/dev/null | head -n 1)); write workloads --sync $sync_mode; access log $access_log"
echo "# peers: $(nginx -v 2>&1 | sed 's/^nginx version: //'), redis $(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p'), PostgreSQL $("$pg_bindir/postgres" --version | sed -n 's/^[^)]*) \([0-9.]*\).*/\1/p'), $(wrk -v 2>&1 | head -n 1 | awk '{print $1, $2}')"
echo "# client: wrk -t $threads -c $conns, redis-benchmark -c $conns, pgbench -c $conns -j $threads; ${duration}s timed + ${warmup}s warm-up per side, $rounds round(s), median rate"
echo "# payload: ${#payload}-byte JSON event data; order body ${#order_body} bytes; append body ${#append_body} bytes"

# ---- workloads --------------------------------------------------------------------------------

# report name unit cairn_rates peer_name peer_rates target cairn_p50s cairn_p99s peer_p50s peer_p99s extra
report() {
  local name="$1" c="$2" peer="$3" p="$4" target="$5" cp50="$6" cp99="$7" pp50="$8" pp99="$9" extra="${10}"
  local ratio
  ratio=$(awk -v c="$c" -v p="$p" 'BEGIN { if (p > 0) printf "%.2f", c / p; else print "n/a" }')
  printf '%-22s cairn %8s req/s   %-6s %8s req/s   ratio %5sx   (target >= %sx)   cairn p50 %s ms p99 %s ms\n' \
    "$name" "$c" "$peer" "$p" "$ratio" "$target" "$cp50" "$cp99"
  printf '#   %s p50 %s ms p99 %s ms%s\n' "$peer" "$pp50" "$pp99" "$extra"
}

verbose_round() {  # workload round side rate p50 p99 [extra]
  [[ $verbose -eq 1 ]] || return 0
  printf '#   %s round %d %-6s %8s req/s  p50 %s ms  p99 %s ms  %s\n' "$@"
}

# get_order: one order, read back by id, vs nginx serving the same response body as a file.
workload_get() {
  local name="get_order_${conns}c"
  start_nginx
  local -a c_rates=() c_p50s=() c_p99s=() n_rates=() n_p50s=() n_p99s=()
  local -a c_coress=()
  local bad_n=0 bad_c=0 overflows=0
  local r side order_id path body_bytes=0
  for ((r = 1; r <= rounds; r++)); do
    local sides="nginx cairn"
    [[ $((r % 2)) -eq 0 ]] && sides="cairn nginx"
    for side in $sides; do
      if [[ $side == cairn ]]; then
        start_cairn "$sync_mode"
        local created
        created=$(curl -fsS -X POST -H "Authorization: Bearer $admin_token" -H 'Content-Type: application/json' \
          --data-binary "@$tmp/order_body.json" "$cairn_url/api/orders") ||
          die "POST /api/orders failed: $(curl -sS -X POST -H "Authorization: Bearer $admin_token" -H 'Content-Type: application/json' --data-binary "@$tmp/order_body.json" "$cairn_url/api/orders")"
        order_id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["orderId"])' <<<"$created")
        local position
        position=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["position"])' <<<"$created")
        path="/api/orders/$order_id"
        # Read-your-writes once so the view exists, then save it: nginx serves these bytes.
        curl -fsS -G -H "Authorization: Bearer $admin_token" --data-urlencode "after=$position" \
          -o "$tmp/order_view.json" "$cairn_url$path" || die "GET $path?after= failed"
        curl -fsS -H "Authorization: Bearer $admin_token" -o /dev/null "$cairn_url$path" || die "GET $path failed"
        body_bytes=$(stat -c %s "$tmp/order_view.json")
        if [[ $warmup -gt 0 ]]; then run_wrk "$name-cairn-warmup-$r" "$warmup" "$cairn_url$path" -H "Authorization: Bearer $admin_token"; fi
        timed_cairn_wrk "$name-cairn-$r" "$cairn_url$path" -H "Authorization: Bearer $admin_token"
        stop_cairn
        check_cairn_run "$name" "$r"
        c_rates+=("$w_rps"); c_p50s+=("$w_p50"); c_p99s+=("$w_p99"); bad_c=$((bad_c + w_bad))
        c_coress+=("$c_cores"); overflows=$((overflows + c_overflows))
        verbose_round "$name" "$r" cairn "$w_rps" "$w_p50" "$w_p99" "$c_status; $c_cores CPUs; listen overflows $c_overflows"
      else
        if [[ ! -s "$tmp/order_view.json" ]]; then
          # nginx goes first in round 1: make the file from a throwaway server's view.
          start_cairn "$sync_mode"
          local created2
          created2=$(curl -fsS -X POST -H "Authorization: Bearer $admin_token" -H 'Content-Type: application/json' \
            --data-binary "@$tmp/order_body.json" "$cairn_url/api/orders") || die "POST /api/orders failed"
          order_id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["orderId"])' <<<"$created2")
          curl -fsS -G -H "Authorization: Bearer $admin_token" \
            --data-urlencode "after=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["position"])' <<<"$created2")" \
            -o "$tmp/order_view.json" "$cairn_url/api/orders/$order_id" || die "GET /api/orders/$order_id failed"
          stop_cairn
          c_exit=""; c_logged=""
        fi
        # The same path as Cairn's (the order id of the saved view), the same bytes.
        local vid
        vid=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["orderId"])' <"$tmp/order_view.json")
        mkdir -p "$tmp/nginx/www/api/orders"
        cp "$tmp/order_view.json" "$tmp/nginx/www/api/orders/$vid"
        chmod -R a+rX "$tmp/nginx/www"
        curl -fsS -o /dev/null "http://127.0.0.1:$nginx_port/api/orders/$vid" || die "nginx does not serve the file"
        if [[ $warmup -gt 0 ]]; then run_wrk "$name-nginx-warmup-$r" "$warmup" "http://127.0.0.1:$nginx_port/api/orders/$vid" -H "Authorization: Bearer $admin_token"; fi
        run_wrk "$name-nginx-$r" "$duration" "http://127.0.0.1:$nginx_port/api/orders/$vid" -H "Authorization: Bearer $admin_token"
        n_rates+=("$w_rps"); n_p50s+=("$w_p50"); n_p99s+=("$w_p99"); bad_n=$((bad_n + w_bad))
        verbose_round "$name" "$r" nginx "$w_rps" "$w_p50" "$w_p99"
      fi
    done
  done
  body_bytes=$(stat -c %s "$tmp/order_view.json")
  report "$name" "$(median "${c_rates[@]}")" nginx "$(median "${n_rates[@]}")" 0.5 \
    "$(median "${c_p50s[@]}")" "$(median "${c_p99s[@]}")" "$(median "${n_p50s[@]}")" "$(median "${n_p99s[@]}")" \
    "; response body $body_bytes bytes on both; non-2xx/socket errors cairn $bad_c nginx $bad_n; cairn statuses $c_status; cairn used $(median "${c_coress[@]}") CPUs; listen-queue overflows during cairn runs $overflows"
}

# append_durable: one event per POST to a new stream each time (bench-<thread>-<n>),
# expectedVersion any, vs XADD of the same data to random streams with appendfsync always.
workload_append() {
  local name="append_durable_${conns}c"
  [[ "$sync_mode" == always ]] || name="append_sync_${sync_mode}_${conns}c"
  local -a c_rates=() c_p50s=() c_p99s=() r_rates=() r_p50s=() r_p99s=()
  local -a c_coress=()
  local bad_c=0 overflows=0
  local r side groups=""
  for ((r = 1; r <= rounds; r++)); do
    local sides="redis cairn"
    [[ $((r % 2)) -eq 0 ]] && sides="cairn redis"
    for side in $sides; do
      if [[ $side == cairn ]]; then
        start_cairn "$sync_mode"
        local code
        code=$(curl -sS -o "$tmp/logs/append-smoke.json" -w '%{http_code}' -X POST \
          -H "Authorization: Bearer $service_token" -H 'Content-Type: application/json' \
          --data-binary "@$tmp/append_body.json" "$cairn_url/api/streams/bench-smoke")
        [[ "$code" == 201 ]] || die "POST /api/streams/bench-smoke answered $code: $(cat "$tmp/logs/append-smoke.json")"
        export BENCH_TOKEN="$service_token" BENCH_BODY_FILE="$tmp/append_body.json" BENCH_PATH_PREFIX="/api/streams/bench-"
        if [[ $warmup -gt 0 ]]; then run_wrk "$name-cairn-warmup-$r" "$warmup" "$cairn_url/" -s "$here/http/post.lua"; fi
        sync
        timed_cairn_wrk "$name-cairn-$r" "$cairn_url/" -s "$here/http/post.lua"
        stop_cairn
        check_cairn_run "$name" "$r"
        groups="$c_groups"
        c_rates+=("$w_rps"); c_p50s+=("$w_p50"); c_p99s+=("$w_p99"); bad_c=$((bad_c + w_bad))
        c_coress+=("$c_cores"); overflows=$((overflows + c_overflows))
        verbose_round "$name" "$r" cairn "$w_rps" "$w_p50" "$w_p99" "$c_status; $c_groups; $c_cores CPUs; listen overflows $c_overflows"
      else
        start_redis
        # The warm-up run also sizes the timed one: redis-benchmark counts requests, not seconds.
        run_redis_bench "$name-redis-warmup-$r" $((conns * 50))
        local n
        n=$(awk -v rps="$r_rps" -v d="$duration" -v c="$conns" 'BEGIN { n = int(rps * d); if (n < c * 20) n = c * 20; print n }')
        sync
        run_redis_bench "$name-redis-$r" "$n"
        stop_redis
        r_rates+=("$r_rps"); r_p50s+=("$r_p50"); r_p99s+=("$r_p99")
        verbose_round "$name" "$r" redis "$r_rps" "$r_p50" "$r_p99" "($n requests)"
      fi
    done
  done
  report "$name" "$(median "${c_rates[@]}")" redis "$(median "${r_rates[@]}")" 1 \
    "$(median "${c_p50s[@]}")" "$(median "${c_p99s[@]}")" "$(median "${r_p50s[@]}")" "$(median "${r_p99s[@]}")" \
    "; non-2xx/socket errors cairn $bad_c; cairn statuses $c_status; cairn $groups; cairn used $(median "${c_coress[@]}") CPUs; listen-queue overflows during cairn runs $overflows"
}

# create_order: POST /api/orders (admin token, one ORDER_CREATED per order, durable) vs one
# INSERT per transaction into a PostgreSQL events table, fsync and synchronous_commit on.
workload_create() {
  local name="create_order_${conns}c"
  [[ "$sync_mode" == always ]] || name="create_order_sync_${sync_mode}_${conns}c"
  start_postgres
  local -a c_rates=() c_p50s=() c_p99s=() p_rates=() p_p50s=() p_p99s=()
  local -a c_coress=()
  local bad_c=0 bad_p=0 overflows=0
  local r side groups=""
  for ((r = 1; r <= rounds; r++)); do
    local sides="postgres cairn"
    [[ $((r % 2)) -eq 0 ]] && sides="cairn postgres"
    for side in $sides; do
      if [[ $side == cairn ]]; then
        start_cairn "$sync_mode"
        local code
        code=$(curl -sS -o "$tmp/logs/create-smoke.json" -w '%{http_code}' -X POST \
          -H "Authorization: Bearer $admin_token" -H 'Content-Type: application/json' \
          --data-binary "@$tmp/order_body.json" "$cairn_url/api/orders")
        [[ "$code" == 201 ]] || die "POST /api/orders answered $code: $(cat "$tmp/logs/create-smoke.json")"
        export BENCH_TOKEN="$admin_token" BENCH_BODY_FILE="$tmp/order_body.json" BENCH_PATH_PREFIX=""
        if [[ $warmup -gt 0 ]]; then run_wrk "$name-cairn-warmup-$r" "$warmup" "$cairn_url/api/orders" -s "$here/http/post.lua"; fi
        sync
        timed_cairn_wrk "$name-cairn-$r" "$cairn_url/api/orders" -s "$here/http/post.lua"
        stop_cairn
        check_cairn_run "$name" "$r"
        groups="$c_groups"
        c_rates+=("$w_rps"); c_p50s+=("$w_p50"); c_p99s+=("$w_p99"); bad_c=$((bad_c + w_bad))
        c_coress+=("$c_cores"); overflows=$((overflows + c_overflows))
        verbose_round "$name" "$r" cairn "$w_rps" "$w_p50" "$w_p99" "$c_status; $c_groups; $c_cores CPUs; listen overflows $c_overflows"
      else
        pg_reset
        if [[ $warmup -gt 0 ]]; then run_pgbench "$name-postgres-warmup-$r" "$warmup"; fi
        sync
        run_pgbench "$name-postgres-$r" "$duration"
        p_rates+=("$p_rps"); p_p50s+=("$p_p50"); p_p99s+=("$p_p99"); bad_p=$((bad_p + p_bad))
        verbose_round "$name" "$r" postgres "$p_rps" "$p_p50" "$p_p99" "(failed $p_bad)"
      fi
    done
  done
  report "$name" "$(median "${c_rates[@]}")" postgres "$(median "${p_rates[@]}")" 3 \
    "$(median "${c_p50s[@]}")" "$(median "${c_p99s[@]}")" "$(median "${p_p50s[@]}")" "$(median "${p_p99s[@]}")" \
    "; failed transactions postgres $bad_p; non-2xx/socket errors cairn $bad_c; cairn statuses $c_status; cairn $groups; cairn used $(median "${c_coress[@]}") CPUs; listen-queue overflows during cairn runs $overflows"
}

ran=0
if selected get_order; then workload_get; ran=1; fi
if selected append; then workload_append; ran=1; fi
if selected create_order; then workload_create; ran=1; fi
[[ $ran -eq 1 ]] || die "--only $only matches no workload (get_order, append, create_order)"

if [[ -n "$cairn_errors" ]]; then
  printf '# cairn problems:\n'
  printf '%s' "$cairn_errors" | sed 's/^/#   /'
fi
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
