#!/bin/sh
# Scale out one dataset's index over plain ssh: a worker on each host, the coordinator here.
#
#   SLUICE_HOSTS="idx1 idx2 idx3" deploy/ssh/sluice-index-hosts.sh image
#
# Each host needs the sluice binary on its PATH and the same DATABASE_URL and ELASTICSEARCH_URL
# (here read from /etc/sluice/sluice.env there; SLUICE_REMOTE_ENV names another file). The
# coordinator (`sluice run <dataset> --workers 0`, SLUICE_COMMAND=index for the index stage alone)
# cuts staging into ranges, works ranges too, and swaps only when every range's counts agree.
# A host that drops out (ssh dies, machine lost) loses its lease; another worker or the
# coordinator resumes its range from the last checkpoint. Exit status: the coordinator's.
set -u
dataset=${1:?usage: SLUICE_HOSTS="host1 host2" $0 DATASET}
command=${SLUICE_COMMAND:-run}
remote_env=${SLUICE_REMOTE_ENV:-/etc/sluice/sluice.env}
config=${SLUICE_CONFIG:+--config $SLUICE_CONFIG}
pids=''
for host in ${SLUICE_HOSTS:?set SLUICE_HOSTS to the worker hosts}; do
  ssh -o BatchMode=yes "$host" "set -a; [ -r $remote_env ] && . $remote_env; set +a; exec sluice index $dataset --worker $config" &
  pids="$pids $!"
done
# shellcheck disable=SC2086
sluice "$command" "$dataset" --workers 0 $config
status=$?
for pid in $pids; do wait "$pid" || echo "a worker (ssh pid $pid) exited with $?; its ranges were finished by others" >&2; done
exit $status
