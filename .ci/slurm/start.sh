#!/usr/bin/env bash
# Start a real single-node SLURM cluster on this machine (Debian 12, root, no
# systemd): munged, MariaDB + slurmdbd (accounting, so `sacct` works and the
# Snakemake SLURM plugin's default status path is what gets tested), slurmctld
# and slurmd. Recipe and measurements: /work/shared/notes/slurm.md.
#
#   bash .ci/slurm/start.sh                 # CPU-only node
#   FAKE_GPUS=2 bash .ci/slurm/start.sh     # node also advertises 2 dummy GPUs
#   bash .ci/slurm/start.sh --fake-gpus 2   # same
#
# Idempotent: installs the Debian packages only when missing, stops whatever
# it started before (via stop.sh) and starts everything again. Daemons leave
# pid files under /run for .ci/slurm/stop.sh. Waits (bounded) until `sinfo`
# shows the node idle; on any failure prints the daemon logs and exits non-zero.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
FAKE_GPUS="${FAKE_GPUS:-0}"
while [ $# -gt 0 ]; do
  case "$1" in
    --fake-gpus) FAKE_GPUS="$2"; shift 2 ;;
    --fake-gpus=*) FAKE_GPUS="${1#*=}"; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "start.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ "$FAKE_GPUS" =~ ^[0-9]+$ ]] || { echo "start.sh: FAKE_GPUS must be an integer" >&2; exit 2; }

CLUSTER=localcluster
ETC=/etc/slurm
LOGDIR=/var/log/slurm
MYLOG=/var/log/mysql/error.log
DBPASS=rnncap-local-slurmdbd   # local-only DB on 127.0.0.1, not a secret
PIDS=(/run/munge/munged.pid /run/mysqld/mysqld.pid /run/slurmdbd.pid /run/slurmctld.pid /run/slurmd.pid)

log() { echo "[slurm/start] $*"; }

dump_logs() {
  echo "[slurm/start] FAILED; daemon logs follow" >&2
  for f in "$LOGDIR"/slurmctld.log "$LOGDIR"/slurmd.log "$LOGDIR"/slurmdbd.log "$MYLOG" /var/log/munge/munged.log; do
    [ -f "$f" ] && { echo "===== $f (last 40 lines) =====" >&2; tail -n 40 "$f" >&2; }
  done
  command -v sinfo >/dev/null && timeout 5 sinfo -N -l >&2 2>&1 || true
}
trap 'rc=$?; [ $rc -ne 0 ] && dump_logs; exit $rc' EXIT

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND every 0.2 s
wait_for() {
  local secs=$1 what=$2; shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $end ] && { echo "[slurm/start] timeout (${secs}s) waiting for $what" >&2; return 1; }
    sleep 0.2
  done
}

# ---------------------------------------------------------------- install
need_install=0
for b in slurmctld slurmd slurmdbd sacct sacctmgr munged mariadbd; do
  command -v "$b" >/dev/null 2>&1 || need_install=1
done
if [ $need_install = 1 ]; then
  log "installing slurm-wlm slurmdbd munge mariadb-server"
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then   # keep apt from starting the services
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; made_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq slurm-wlm slurmdbd munge mariadb-server >/dev/null
  if [ $made_policy = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
fi

# ---------------------------------------------------------------- clean restart
bash "$HERE/stop.sh" >/dev/null 2>&1 || true

# ---------------------------------------------------------------- host + hardware
HOST="$(hostname -s)"
if ! getent hosts "$HOST" >/dev/null; then
  log "adding $HOST to /etc/hosts"
  echo "127.0.0.1 $HOST" >> /etc/hosts
fi
HW="$(slurmd -C | head -n1)"
hw() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" <<<"$HW"; }
CPUS=$(hw CPUs); BOARDS=$(hw Boards); SPB=$(hw SocketsPerBoard)
CPS=$(hw CoresPerSocket); TPC=$(hw ThreadsPerCore); REALMEM=$(hw RealMemory)
MEM=$((REALMEM * 90 / 100))   # above the real value the node would go INVAL
log "node $HOST: CPUs=$CPUS RealMemory=${REALMEM}M -> configured ${MEM}M, fake GPUs: $FAKE_GPUS"

# ---------------------------------------------------------------- config files
mkdir -p "$ETC" "$LOGDIR" /var/lib/slurm/slurmctld /var/lib/slurm/slurmd
chown slurm:slurm "$LOGDIR" /var/lib/slurm/slurmctld

GRES_NODE=""; GRES_GLOBAL=""
rm -f "$ETC/gres.conf"
if [ "$FAKE_GPUS" -gt 0 ]; then
  # GRES File= entries must be character devices: dummy ones (same numbers as /dev/null)
  for ((i = 0; i < FAKE_GPUS; i++)); do
    f=/var/lib/slurm/fakegpu$i
    [ -c "$f" ] || { rm -f "$f"; mknod "$f" c 1 3; }
  done
  echo "Name=gpu File=/var/lib/slurm/fakegpu[0-$((FAKE_GPUS - 1))]" > "$ETC/gres.conf"
  GRES_NODE="Gres=gpu:$FAKE_GPUS"
  GRES_GLOBAL=$'GresTypes=gpu\nAccountingStorageTRES=gres/gpu'
fi

cat > "$ETC/slurm.conf" <<EOF
# Written by .ci/slurm/start.sh: local single-node test cluster.
ClusterName=$CLUSTER
SlurmctldHost=$HOST
AuthType=auth/munge
SlurmUser=slurm
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOGDIR/slurmctld.log
SlurmdLogFile=$LOGDIR/slurmd.log
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=256
ReturnToService=2
MinJobAge=300
KillWait=5
InactiveLimit=0
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoreFlags=job_comment
JobAcctGatherType=jobacct_gather/linux
JobCompType=jobcomp/none
$GRES_GLOBAL
NodeName=$HOST CPUs=$CPUS Boards=$BOARDS SocketsPerBoard=$SPB CoresPerSocket=$CPS ThreadsPerCore=$TPC RealMemory=$MEM $GRES_NODE State=UNKNOWN
PartitionName=main Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
PartitionName=debug Nodes=$HOST Default=NO MaxTime=INFINITE State=UP
EOF

cat > "$ETC/slurmdbd.conf" <<EOF
# Written by .ci/slurm/start.sh
AuthType=auth/munge
DbdHost=localhost
SlurmUser=slurm
PidFile=/run/slurmdbd.pid
LogFile=$LOGDIR/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=$DBPASS
StorageLoc=slurm_acct_db
EOF
chown slurm:slurm "$ETC/slurmdbd.conf"; chmod 600 "$ETC/slurmdbd.conf"

# ---------------------------------------------------------------- munge
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --keyfile=/etc/munge/munge.key
  chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
fi
runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
wait_for 10 munge bash -c 'munge -n | unmunge'

# ---------------------------------------------------------------- MariaDB + slurmdbd
mkdir -p /run/mysqld /var/log/mysql
chown mysql:mysql /run/mysqld /var/log/mysql
setsid /usr/sbin/mariadbd --user=mysql --bind-address=127.0.0.1 \
  --pid-file=/run/mysqld/mysqld.pid --log-error="$MYLOG" </dev/null >/dev/null 2>&1 &
wait_for 30 mariadb mariadb-admin ping
mariadb <<EOF
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DBPASS';
ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$DBPASS';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
FLUSH PRIVILEGES;
EOF
/usr/sbin/slurmdbd
wait_for 30 slurmdbd sacctmgr -n list cluster
if ! sacctmgr -n -P list cluster format=Cluster | grep -qx "$CLUSTER"; then
  sacctmgr -i add cluster "$CLUSTER" >/dev/null   # 22.05's slurmctld does not do it itself
fi

# ---------------------------------------------------------------- slurmctld + slurmd
/usr/sbin/slurmctld
wait_for 30 slurmctld scontrol ping
/usr/sbin/slurmd
node_idle() { [ "$(sinfo -h -N -n "$HOST" -p main -o %t 2>/dev/null | head -n1)" = idle ]; }
if ! wait_for 30 "node $HOST idle" node_idle; then
  # a node left down/drained by an earlier run: resume it once, then wait again
  scontrol update NodeName="$HOST" State=RESUME 2>/dev/null || true
  wait_for 15 "node $HOST idle (after resume)" node_idle
fi
if [ "$FAKE_GPUS" -gt 0 ]; then
  scontrol show node "$HOST" | grep -q "Gres=gpu:$FAKE_GPUS" || { echo "node does not report gpu:$FAKE_GPUS" >&2; exit 1; }
fi
for p in "${PIDS[@]}"; do [ -s "$p" ] || { echo "missing pid file $p" >&2; exit 1; }; done
log "cluster $CLUSTER up in ${SECONDS}s:"
sinfo
