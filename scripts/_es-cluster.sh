# shellcheck shell=bash
# `scripts/services cluster up|down|status|kill-node N`: a three-node Elasticsearch cluster on this
# machine, for the scale-out tests and bench only (sourced by scripts/services, whose variables and
# helpers it uses). Three processes of the pinned distribution ($ES_VERSION, the same unpacked
# $ES_HOME as the single node), each with its own config dir (ES_PATH_CONF), data, logs and ports:
# http $SLUICE_CLUSTER_HTTP_BASE+0..2 (default 9230-9232), transport +100 (9330-9332), heap
# $SLUICE_CLUSTER_HEAP (default 320m). It never touches the single node. `down` stops the nodes
# and deletes their data: each `up` starts a fresh cluster.

CLUSTER_DIR=$STATE/es-cluster
CLUSTER_HTTP_BASE=${SLUICE_CLUSTER_HTTP_BASE:-9230}
CLUSTER_HEAP=${SLUICE_CLUSTER_HEAP:-320m}
CLUSTER_TIMEOUT=${SLUICE_CLUSTER_TIMEOUT:-240}
[[ $CLUSTER_HEAP =~ ^[0-9]+[mM]$ ]] || die "SLUICE_CLUSTER_HEAP=$CLUSTER_HEAP: expected a size like 320m"

cluster_http_port() { echo $((CLUSTER_HTTP_BASE + $1)); }
cluster_transport_port() { echo $((CLUSTER_HTTP_BASE + 100 + $1)); }
cluster_url() { printf 'http://127.0.0.1:%s' "$(cluster_http_port 0)"; }

# cluster_pid N : the pid of node N when it runs (pidfile + its command line names our config dir).
cluster_pid() {
  local dir=$CLUSTER_DIR/node$1 pid
  [[ -f $dir/run/es.pid ]] || return 1
  pid=$(head -n 1 "$dir/run/es.pid" 2>/dev/null | tr -dc 0-9)
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$ES_HOME" || return 1
  echo "$pid"
}

cluster_write_node() { # N
  local n=$1 dir=$CLUSTER_DIR/node$1 d seeds masters
  seeds="127.0.0.1:$(cluster_transport_port 0), 127.0.0.1:$(cluster_transport_port 1), 127.0.0.1:$(cluster_transport_port 2)"
  masters="sluice-c0, sluice-c1, sluice-c2"
  for d in config data logs run tmp; do mkdir -p "$dir/$d"; done
  # The distribution's jvm.options, log4j2 and the like; the node writes its keystore here.
  cp -r "$ES_HOME/config/." "$dir/config/"
  cat >"$dir/config/elasticsearch.yml" <<YML
# Written by scripts/services cluster up; edits here are lost.
cluster.name: sluice-cluster
node.name: sluice-c$n
network.host: 127.0.0.1
http.port: $(cluster_http_port "$n")
transport.port: $(cluster_transport_port "$n")
discovery.seed_hosts: [$seeds]
cluster.initial_master_nodes: [$masters]
xpack.security.enabled: false
path.data: $dir/data
path.logs: $dir/logs
cluster.routing.allocation.disk.threshold_enabled: false
YML
  chown -R "$ES_OS_USER:" "$dir"
}

cluster_up() {
  local n pid deadline body
  need_cmd curl curl
  lock_state
  es_install
  for n in 0 1 2; do
    if cluster_pid "$n" >/dev/null; then continue; fi
    if port_open "$(cluster_http_port "$n")" || port_open "$(cluster_transport_port "$n")"; then
      die "port $(cluster_http_port "$n") or $(cluster_transport_port "$n") is taken; set SLUICE_CLUSTER_HTTP_BASE"
    fi
    cluster_write_node "$n"
    log "starting cluster node sluice-c$n on 127.0.0.1:$(cluster_http_port "$n") (heap $CLUSTER_HEAP)"
    (cd "$ES_HOME" && run_as "$ES_OS_USER" setsid env -u JAVA_HOME HOME="$CLUSTER_DIR/node$n" \
      ES_JAVA_HOME="$ES_JDK" ES_PATH_CONF="$CLUSTER_DIR/node$n/config" ES_JAVA_OPTS="-Xms$CLUSTER_HEAP -Xmx$CLUSTER_HEAP" \
      ES_TMPDIR="$CLUSTER_DIR/node$n/tmp" "$ES_HOME/bin/elasticsearch" -d -p "$CLUSTER_DIR/node$n/run/es.pid" \
      >>"$CLUSTER_DIR/node$n/logs/startup.log" 2>&1 </dev/null 9>&-) &
  done
  deadline=$(($(now) + CLUSTER_TIMEOUT))
  until body=$(curl -fsS -m 5 "$(cluster_url)/_cluster/health?wait_for_nodes=3&wait_for_status=green&timeout=2s" 2>/dev/null) &&
    [[ $body == *'"number_of_nodes":3'* && $body == *'"status":"green"'* ]]; do
    if (($(now) >= deadline)); then
      for n in 0 1 2; do tail_log "$CLUSTER_DIR/node$n/logs/startup.log" "$CLUSTER_DIR/node$n/logs/sluice-cluster.log"; done
      die "the three-node cluster did not form within ${CLUSTER_TIMEOUT}s"
    fi
    sleep 1
  done
  wait || true
  log "cluster of 3 nodes ready at $(cluster_url)"
  printf 'export SLUICE_CLUSTER_URL=%q\n' "$(cluster_url)"
}

cluster_kill_node() { # N [SIGNAL]
  local pid
  pid=$(cluster_pid "$1") || die "cluster node $1 is not running"
  kill "-${2:-KILL}" "$pid"
  log "sent SIG${2:-KILL} to cluster node sluice-c$1 (pid $pid)"
}

cluster_down() {
  local n pid i
  lock_state
  for n in 0 1 2; do
    if pid=$(cluster_pid "$n"); then
      kill -TERM "$pid" 2>/dev/null || true
      for ((i = 0; i < 60; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$CLUSTER_DIR"
  log "cluster stopped and its data removed"
}

cluster_status() {
  local n pid rc=0
  for n in 0 1 2; do
    if pid=$(cluster_pid "$n"); then status_line "sluice-c$n" running "http://127.0.0.1:$(cluster_http_port "$n")" "pid $pid, $ES_VERSION"
    else status_line "sluice-c$n" stopped "http://127.0.0.1:$(cluster_http_port "$n")" "-"; rc=3; fi
  done
  return $rc
}

cmd_cluster() {
  case ${1:-} in
    up) cluster_up ;;
    down) cluster_down ;;
    status) cluster_status ;;
    kill-node) [[ ${2:-} =~ ^[012]$ ]] || die "kill-node needs a node number 0, 1 or 2"; cluster_kill_node "$2" "${3:-KILL}" ;;
    *) die "usage: scripts/services cluster up|down|status|kill-node N" ;;
  esac
}
