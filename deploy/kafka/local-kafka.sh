#!/usr/bin/env bash
# Start, stop or query a single-node Apache Kafka broker (KRaft) on 127.0.0.1, resolved
# from Maven Central with Maven. No Docker needed.
#
#   deploy/kafka/local-kafka.sh fetch|start|stop|status|bootstrap
#
# Environment:
#   KAFKA_PORT             client port (default 9092); the controller uses KAFKA_PORT+1
#   KAFKA_DATA_DIR         state, logs and pid file (default .local/kafka-$KAFKA_PORT)
#   SIGAP_CACHE_DIR        where broker jars are cached (default ~/.cache/sigap)
#   KAFKA_HEAP_OPTS        JVM heap (default -Xms256m -Xmx768m)
#   KAFKA_START_TIMEOUT    seconds to wait for the broker (default 90)
#   KAFKA_SASL_PORT        if set, also a SASL_PLAINTEXT listener (mechanism PLAIN) on this port
#   KAFKA_SASL_USERS       its users, "name:password,name:password" (default sigap:sigap-secret)
#   KAFKA_BOOTSTRAP_SERVERS  if set, an external cluster is used: start/stop do nothing
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
port=${KAFKA_PORT:-9092}
controller_port=$((port + 1))
data_dir=${KAFKA_DATA_DIR:-$root/.local/kafka-$port}
kafka_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")
cache_dir=${SIGAP_CACHE_DIR:-$HOME/.cache/sigap}
libs_dir=$cache_dir/kafka-$kafka_version/libs
pid_file=$data_dir/broker.pid
log_file=$data_dir/broker.log
timeout=${KAFKA_START_TIMEOUT:-90}

say() { printf 'local-kafka: %s\n' "$*" >&2; }

# Reads Maven's output, keeps it in $1, and prints a progress line at most every 5 s.
progress() {
  local log=$1 line files=0 last=$SECONDS started=$SECONDS
  while IFS= read -r line; do
    printf '%s\n' "$line" >>"$log"
    case $line in *"Downloaded from"*) files=$((files + 1)) ;; esac
    if [ $((SECONDS - last)) -ge 5 ]; then
      say "fetching: $files file(s) downloaded, $((SECONDS - started))s"
      last=$SECONDS
    fi
  done
  say "fetched: $files file(s) downloaded in $((SECONDS - started))s"
}

fetch() {
  if [ -f "$libs_dir/.complete" ]; then return 0; fi
  command -v mvn >/dev/null || { say "Maven (mvn) is required to fetch the broker"; exit 1; }
  command -v java >/dev/null || { say "a JDK 17+ (java) is required to run the broker"; exit 1; }
  say "resolving org.apache.kafka:kafka_2.13:$kafka_version from Maven Central into $libs_dir"
  say "(first time only: Maven downloads its plugins and the broker's jars, a few minutes)"
  rm -rf "$libs_dir.tmp"
  local mvn_log
  mvn_log=$(mktemp)
  # Maven's own output is one line per file; print a count every few seconds instead, and
  # the whole output only when it fails.
  if ! mvn -B -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$libs_dir.tmp" 2>&1 | progress "$mvn_log"; then
    say "Maven failed; its output:"
    cat "$mvn_log" >&2
    rm -f "$mvn_log"
    exit 1
  fi
  rm -f "$mvn_log"
  rm -rf "$libs_dir"
  mv "$libs_dir.tmp" "$libs_dir"
  touch "$libs_dir/.complete"
}

running_pid() {
  [ -f "$pid_file" ] || return 1
  local pid
  pid=$(cat "$pid_file")
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

# The JVM command line shared by the storage tool and the broker itself.
java_args() {
  local heap
  read -r -a heap <<<"${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}"
  java_cmd=(java "${heap[@]}" -XX:+UseG1GC -Djava.awt.headless=true
    "-Dlog4j2.configurationFile=$here/log4j2.properties" "-Dkafka.logs.file=$log_file"
    -cp "$libs_dir/*")
}

start() {
  if [ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]; then
    say "KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS is set: using that cluster, starting nothing"
    return 0
  fi
  if pid=$(running_pid); then say "already running (pid $pid) on 127.0.0.1:$port"; return 0; fi
  if port_open; then say "port $port is taken by another process; set KAFKA_PORT"; exit 1; fi
  fetch
  mkdir -p "$data_dir"
  java_args
  local config=$data_dir/server.properties
  local extra_listeners="" extra_advertised=""
  if [ -n "${KAFKA_SASL_PORT:-}" ]; then
    extra_listeners=",SASL_PLAINTEXT://127.0.0.1:$KAFKA_SASL_PORT"
    extra_advertised=$extra_listeners
  fi
  sed -e "s|@PORT@|$port|g" -e "s|@CONTROLLER_PORT@|$controller_port|g" \
      -e "s|@LOG_DIR@|$data_dir/log|g" -e "s|@EXTRA_LISTENERS@|$extra_listeners|g" \
      -e "s|@EXTRA_ADVERTISED@|$extra_advertised|g" \
      "$here/server.properties.template" >"$config"
  if [ -n "${KAFKA_SASL_PORT:-}" ]; then
    local users="" pair
    IFS=',' read -r -a pairs <<<"${KAFKA_SASL_USERS:-sigap:sigap-secret}"
    for pair in "${pairs[@]}"; do users="$users user_${pair%%:*}=\"${pair#*:}\""; done
    {
      echo "sasl.enabled.mechanisms=PLAIN"
      echo "listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required$users;"
    } >>"$config"
  fi
  if [ ! -f "$data_dir/log/meta.properties" ]; then
    local cluster_id
    cluster_id=$("${java_cmd[@]}" kafka.tools.StorageTool random-uuid)
    "${java_cmd[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$config" >/dev/null
  fi
  : >"$log_file"
  nohup "${java_cmd[@]}" kafka.Kafka "$config" >"$data_dir/broker.out" 2>&1 &
  echo $! >"$pid_file"
  local waited=0
  until port_open && grep -q "Kafka Server started" "$log_file" 2>/dev/null; do
    if ! running_pid >/dev/null; then
      say "broker exited during start-up; last lines of $log_file and broker.out:"
      tail -n 30 "$log_file" "$data_dir/broker.out" >&2 || true
      exit 1
    fi
    if [ "$waited" -ge "$((timeout * 2))" ]; then
      say "broker not ready after ${timeout}s; see $log_file"
      stop
      exit 1
    fi
    sleep 0.5
    waited=$((waited + 1))
  done
  say "Kafka $kafka_version ready on 127.0.0.1:$port (pid $(cat "$pid_file"), data $data_dir)"
}

stop() {
  if [ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]; then return 0; fi
  local pid
  if ! pid=$(running_pid); then say "not running"; rm -f "$pid_file"; return 0; fi
  kill -TERM "$pid"
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pid_file"; say "stopped"; return 0; }
    sleep 0.5
  done
  say "broker did not stop within 30s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pid_file"
}

status() {
  if pid=$(running_pid) && port_open; then
    say "running (pid $pid) on 127.0.0.1:$port"
  else
    say "not running"
    return 1
  fi
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  bootstrap) echo "${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$port}" ;;
  *) echo "usage: $0 fetch|start|stop|status|bootstrap" >&2; exit 2 ;;
esac
