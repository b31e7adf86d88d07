#!/usr/bin/env bash
# Make sure a local Ray cluster (2 CPUs, 4 fake GPUs, Jobs API on 127.0.0.1:$SUANLI_RAY_DASHBOARD_PORT)
# answers for the tests. Idempotent and fast when it already does: the check is one HTTP request.
# Ray lives in its own venv outside the project's (suanli talks to Ray over HTTP only; ADR 0011), per
# ../shared/recipes/real-components.md (section 2). Prints one line saying what it did.
#
#   scripts/ensure-ray.sh          install if needed, start the head if no cluster answers
#   scripts/ensure-ray.sh stop     stop only this script's cluster (never a bare `ray stop`,
#                                  which kills every Ray process on the machine)
#
# Settings (environment): SUANLI_RAY_HOME (default ~/.cache/suanli/ray: venv/, tmp/ (Ray's session
# files)), SUANLI_RAY_DASHBOARD_PORT (8265), SUANLI_RAY_PORT (GCS, 6390: 6379 is often a Redis;
# the agents use the four ports after it), SUANLI_RAY_CPUS (2), SUANLI_RAY_GPUS (4, fake: Ray hands them out as CUDA_VISIBLE_DEVICES),
# SUANLI_RAY_OBJECT_STORE_MB (256).
set -euo pipefail

home=${SUANLI_RAY_HOME:-$HOME/.cache/suanli/ray}
dash_port=${SUANLI_RAY_DASHBOARD_PORT:-8265}
gcs_port=${SUANLI_RAY_PORT:-6390}
cpus=${SUANLI_RAY_CPUS:-2}
gpus=${SUANLI_RAY_GPUS:-4}
store_mb=${SUANLI_RAY_OBJECT_STORE_MB:-256}
venv=$home/venv
# Ray shortens socket paths under its temp dir; keep it short (AF_UNIX paths are limited to 107 bytes).
tmp=$home/tmp
url=http://127.0.0.1:$dash_port

say() { echo "ensure-ray: $*" >&2; }
answers() { curl -fsS -m 3 "$url/api/version" >/dev/null 2>&1; }

if [ "${1:-}" = stop ]; then
  # Our cluster's processes: those whose command line names our temp dir or our GCS address.
  pids=$( { pgrep -f -- "$tmp/" || true; pgrep -f -- "--(gcs[-_])?address=[0-9.]+:$gcs_port( |\$)" || true; } \
    | { grep -vx "$$" || true; } | sort -u | tr "\n" " ")
  if [ -z "${pids// /}" ]; then say "no cluster of ours is running"; exit 0; fi
  kill $pids 2>/dev/null || true
  for _ in $(seq 1 50); do
    alive=$(for p in $pids; do if kill -0 "$p" 2>/dev/null; then echo "$p"; fi; done)
    [ -z "$alive" ] && break
    sleep 0.2
  done
  [ -n "${alive:-}" ] && kill -9 $alive 2>/dev/null || true
  say "stopped the cluster in $tmp (pids $pids)"
  exit 0
fi

if answers; then say "Ray already answers on $url; nothing to do"; exit 0; fi

did=()
if [ ! -x "$venv/bin/ray" ]; then
  mkdir -p "$home"
  python3 -m venv "$venv"
  out=$("$venv/bin/pip" install -q 'ray[default]==2.*' 2>&1) \
    || { echo "$out" >&2; say "could not install Ray into $venv"; exit 1; }
  did+=("installed ray $("$venv/bin/python" -c 'import ray; print(ray.__version__)') into $venv")
fi

mkdir -p "$tmp"
# Ray 2.60's raylet waits a hardcoded 15 s for the dashboard agent to write its port files into the
# session dir and aborts the node otherwise (fixed upstream later; agent_register_timeout_ms does not
# apply). On a busy 2-core machine the agent's imports alone take longer than that. Our agent ports
# are fixed, so the files' contents are known: write them as soon as the raylet has its node id; the
# agent rewrites them with the same ports when it is up, and the raylet connects to it with retries.
prime_port_files() {
  local marker=$1 session id
  for _ in $(seq 1 1500); do
    session=$(find "$tmp" -maxdepth 1 -name 'session_2*' -newer "$marker" 2>/dev/null | head -n 1)
    if [ -n "$session" ] && [ -f "$session/logs/raylet.out" ]; then
      id=$(grep -oE 'Setting node ID node_id=[0-9a-f]+' "$session/logs/raylet.out" | head -n 1 | cut -d= -f2)
      if [ -n "$id" ]; then
        for pair in metrics_agent_port:$((gcs_port + 1)) dashboard_agent_listen_port:$((gcs_port + 2)) \
          runtime_env_agent_port:$((gcs_port + 3)); do
          f="$session/${pair%%:*}_$id"
          [ -e "$f" ] || { printf '%s' "${pair##*:}" >"$f.suanli" && mv -n "$f.suanli" "$f"; }
        done
        return 0
      fi
    fi
    sleep 0.1
  done
}

start_head() {
  # The entrypoint of a job runs with the PATH of `ray start` (recipe gotcha 1): put Ray's venv first
  # so that `python` in a job is one with Ray. No usage stats, no outbound calls.
  # Ray's start-up has tight waits (see prime_port_files): the head starts at a raised priority (as
  # root) and is set back to normal priority once it answers.
  local nice=() marker="$tmp/.starting" primer rc=0
  [ "$(id -u)" = 0 ] && nice=(nice -n -10)
  touch "$marker"
  prime_port_files "$marker" &
  primer=$!
  (cd "$home" && RAY_USAGE_STATS_ENABLED=0 PATH="$venv/bin:$PATH" \
    "${nice[@]}" "$venv/bin/ray" start --head \
    --node-ip-address=127.0.0.1 --port="$gcs_port" \
    --dashboard-host=127.0.0.1 --dashboard-port="$dash_port" \
    --dashboard-agent-grpc-port=$((gcs_port + 1)) --dashboard-agent-listen-port=$((gcs_port + 2)) \
    --runtime-env-agent-port=$((gcs_port + 3)) --metrics-export-port=$((gcs_port + 4)) \
    --num-cpus="$cpus" --num-gpus="$gpus" --object-store-memory=$((store_mb * 1024 * 1024)) \
    --temp-dir="$tmp" --disable-usage-stats 2>&1) || rc=$?
  kill "$primer" 2>/dev/null || true
  wait "$primer" 2>/dev/null || true
  return $rc
}
ok=""
for try in 1 2 3; do
  if out=$(start_head); then ok=1; break; fi
  say "ray start failed (try $try): $(echo "$out" | grep -E 'Exception|Error' | tail -n 1)"
  "$0" stop 2>/dev/null || true  # what is left of the failed head
done
[ -n "$ok" ] || { echo "$out" | tail -n 20 >&2; say "ray start failed; logs in $tmp/session_latest/logs"; exit 1; }
did+=("started a Ray head ($cpus CPUs, $gpus fake GPUs, ${store_mb} MB object store, temp dir $tmp)")

for _ in $(seq 1 150); do answers && break; sleep 0.2; done
if ! answers; then say "Ray started but its dashboard does not answer on $url"; exit 1; fi
# The Jobs API answers a little after the dashboard's version endpoint.
for _ in $(seq 1 100); do curl -fsS -m 3 "$url/api/jobs/" >/dev/null 2>&1 && break; sleep 0.2; done
pgrep -f -- "$tmp/" | xargs -r renice -n 0 -p >/dev/null 2>&1 || true
say "$(printf "%s; " "${did[@]}")Jobs API on $url"
