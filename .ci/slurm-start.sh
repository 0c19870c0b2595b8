#!/usr/bin/env bash
# Install and start a one-node SLURM cluster on this machine (for the live `-m slurm` tests).
#
# Needs root (or passwordless sudo) and a Debian/Ubuntu system. Idempotent: running it again
# on a machine where the cluster is already up only checks that the node is idle.
# No SLURM accounting (no slurmdbd): fourtop reads job state from the files its jobs write
# and from squeue, which is what this cluster exercises.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo -n"; fi

node_idle() {
    sinfo -h -N -o '%T' 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'
}

if command -v sinfo >/dev/null 2>&1 && node_idle; then
    echo "slurm-start: cluster already up"; sinfo; exit 0
fi

if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q slurm-wlm munge
fi

# munge: one key, private to the munge user
if [ ! -s /etc/munge/munge.key ]; then
    if command -v mungekey >/dev/null 2>&1; then
        $SUDO mungekey --create --keyfile=/etc/munge/munge.key
    else
        $SUDO dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
fi
$SUDO mkdir -p /run/munge /var/log/munge /var/lib/munge
$SUDO chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge
$SUDO chmod 0700 /etc/munge /var/log/munge /var/lib/munge
$SUDO chmod 0755 /run/munge
$SUDO chmod 0400 /etc/munge/munge.key
if ! pgrep -u munge -x munged >/dev/null 2>&1; then
    $SUDO -u munge munged 2>/dev/null || $SUDO runuser -u munge -- munged
fi
for _ in $(seq 1 20); do munge -n </dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.5; done

# slurm.conf for this one node (its CPUs and memory as slurmd sees them)
host=$(hostname -s)
cpus=$(nproc)
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 256 ))
conf_dir=/etc/slurm
[ -d /etc/slurm-llnl ] && [ ! -d /etc/slurm ] && conf_dir=/etc/slurm-llnl
$SUDO mkdir -p "$conf_dir" /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
$SUDO tee "$conf_dir/slurm.conf" >/dev/null <<CONF
# written by fourtop .ci/slurm-start.sh: a one-node test cluster, no accounting
ClusterName=fourtop-ci
SlurmctldHost=${host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SchedulerParameters=defer_batch
MinJobAge=300
NodeName=${host} CPUs=${cpus} RealMemory=${mem} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
# task/none and proctrack/linuxproc need no cgroup.conf, but some builds read it anyway
if [ ! -e "$conf_dir/cgroup.conf" ]; then
    echo "CgroupPlugin=autodetect" | $SUDO tee "$conf_dir/cgroup.conf" >/dev/null
fi

pgrep -x slurmctld >/dev/null 2>&1 || $SUDO slurmctld
pgrep -x slurmd >/dev/null 2>&1 || $SUDO slurmd

for _ in $(seq 1 60); do
    if node_idle; then echo "slurm-start: cluster up"; sinfo; exit 0; fi
    # a node left DOWN from an earlier run comes back with an update
    if sinfo -h -N -o '%T' 2>/dev/null | grep -Eq '^(down|drain|unknown)'; then
        $SUDO scontrol update nodename="${host}" state=resume >/dev/null 2>&1 || true
    fi
    sleep 1
done
echo "slurm-start: the node did not become idle; logs in /var/log/slurm" >&2
sinfo >&2 || true
tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
exit 1
