#!/usr/bin/env bash
# Make sure a single-node Slurm (4 fake GPUs, partition `debug`) answers for the tests.
# Idempotent: a healthy cluster on this script's slurm.conf is left alone. As root, installs Debian's packages if missing
# and starts munged, slurmctld and slurmd per ../shared/recipes/real-components.md (section 1).
# Prints one line saying what it did. Not root: does nothing (the Slurm tests then skip).
# SUANLI_SLURM_DBD=1: with accounting (slurmdbd on the local MariaDB, recipe section 1c), so that
# `sacct` answers; without it (the default, what `make test` uses) the cluster keeps no accounting.
# Switching between the two rewrites slurm.conf and restarts slurmctld and slurmd (jobs survive it).
set -euo pipefail

say() { echo "ensure-slurm: $*" >&2; }
healthy() { sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)$'; }

if [ "$(id -u)" != 0 ]; then
  if command -v sinfo >/dev/null && healthy; then say "Slurm already answers; nothing to do"; exit 0; fi
  say "no Slurm answers and I am not root; Slurm tests will be skipped"
  exit 0
fi

did=()
dbd=false
[ "${SUANLI_SLURM_DBD:-0}" = 1 ] && dbd=true
export DEBIAN_FRONTEND=noninteractive
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sinfo >/dev/null; then
  out=$( { apt-get update -qq && apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge; } 2>&1) \
    || { echo "$out" >&2; say "could not install Slurm from Debian's packages"; exit 1; }
  did+=("installed slurm 22.05 and munge")
fi

# munge: the key comes with the package's postinst; make one if it is missing.
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --force
  chown munge:munge /etc/munge/munge.key && chmod 600 /etc/munge/munge.key
fi
mkdir -p /run/munge && chown munge:munge /run/munge
if ! pgrep -x munged >/dev/null; then
  runuser -u munge -- /usr/sbin/munged
  did+=("started munged")
fi

# Fake GPUs: char devices with /dev/null's numbers (count-only gres does not work in 22.05).
mkdir -p /run/fakegpu
for i in 0 1 2 3; do [ -c /run/fakegpu/gpu$i ] || mknod /run/fakegpu/gpu$i c 1 3; done

mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

if $dbd; then
  if ! command -v slurmdbd >/dev/null || ! command -v mariadbd >/dev/null; then
    out=$( { apt-get update -qq && apt-get install -y -qq --no-install-recommends mariadb-server slurmdbd; } 2>&1) \
      || { echo "$out" >&2; say "could not install slurmdbd and MariaDB from Debian's packages"; exit 1; }
    did+=("installed slurmdbd and MariaDB")
  fi
  if ! mysql -e 'select 1' >/dev/null 2>&1; then
    /etc/init.d/mariadb start >/dev/null
    did+=("started MariaDB")
  fi
  mysql -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmpw';
            GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
  dbdconf='# written by suanli scripts/ensure-slurm.sh
AuthType=auth/munge
DbdHost=localhost
DbdPort=6819
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurmpw
StorageLoc=slurm_acct_db
LogFile=/var/log/slurm/slurmdbd.log
PidFile=/run/slurmdbd.pid'
  [ "$(cat /etc/slurm/slurmdbd.conf 2>/dev/null)" = "$dbdconf" ] || {
    (umask 077 && echo "$dbdconf" >/etc/slurm/slurmdbd.conf)
  }
  if ! alive /run/slurmdbd.pid; then
    slurmdbd # before slurmctld, which registers the cluster with it
    for _ in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/6819) 2>/dev/null && break; sleep 0.1; done
    did+=("started slurmdbd")
  fi
  accounting='AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageTRES=gres/gpu
JobAcctGatherType=jobacct_gather/linux'
else
  accounting='AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none'
fi

conf=$(cat <<CONF
# written by suanli scripts/ensure-slurm.sh
ClusterName=ci
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
$accounting
MpiDefault=none
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=256
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
# A site's limits refuse at submission what exceeds them (the default, NO, leaves such jobs pending).
EnforcePartLimits=ALL
ReturnToService=2
SlurmdParameters=config_overrides
JobCompType=jobcomp/filetxt
JobCompLoc=/var/log/slurm/jobcomp.log
GresTypes=gpu
NodeName=localhost NodeAddr=127.0.0.1 CPUs=4 RealMemory=4000 Gres=gpu:4 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=7-00:00:00 State=UP
CONF
)
gres='NodeName=localhost Name=gpu File=/run/fakegpu/gpu[0-3]'
# A site's own slurm.conf is never overwritten; ours is rewritten only when it differs.
rewritten=false
if [ -e /etc/slurm/slurm.conf ] && ! grep -q 'suanli scripts/ensure-slurm.sh' /etc/slurm/slurm.conf; then
  say "/etc/slurm/slurm.conf exists and is not ours; starting the daemons with it"
else
  [ "$(cat /etc/slurm/slurm.conf 2>/dev/null)" = "$conf" ] || { echo "$conf" >/etc/slurm/slurm.conf; rewritten=true; }
  [ "$(cat /etc/slurm/gres.conf 2>/dev/null)" = "$gres" ] || { echo "$gres" >/etc/slurm/gres.conf; rewritten=true; }
fi

if ! $rewritten && healthy; then say "Slurm already answers; nothing to do"; exit 0; fi
if $rewritten; then
  # A restart, not `scontrol reconfigure`: accounting changes need one. Running jobs survive it
  # (their slurmstepd does not depend on either daemon).
  for pidfile in /run/slurmctld.pid /run/slurmd.pid; do
    alive "$pidfile" || continue
    pid=$(cat "$pidfile")
    kill "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  did+=("stopped the daemons to take the new slurm.conf")
fi
if ! alive /run/slurmctld.pid; then
  slurmctld
  did+=("started slurmctld")
fi
if ! alive /run/slurmd.pid; then
  slurmd -N localhost # the node name must match NodeName, not `hostname`
  did+=("started slurmd")
fi

for _ in $(seq 1 150); do healthy && break; sleep 0.2; done
if ! healthy && sinfo -h -o '%T' 2>/dev/null | grep -qE 'drain|inval|down'; then
  # A node that once registered badly stays drained even after the config is fixed (gotcha 2).
  scontrol update nodename=localhost state=resume 2>/dev/null || true
  did+=("resumed the drained node")
  for _ in $(seq 1 50); do healthy && break; sleep 0.2; done
fi
if ! healthy; then
  say "Slurm did not become idle: $(sinfo -h -o '%N %T %E' 2>&1 | head -n 3 | tr '\n' ' ')"
  exit 1
fi
[ ${#did[@]} -eq 0 ] && did=("Slurm answers") || true
say "$(IFS=,; echo "${did[*]}" | sed 's/,/, /g'); sinfo: $(sinfo -h -o '%P %D %T %G' | head -n 1)"
