#!/usr/bin/env bash
# Stop the local SLURM cluster started by .ci/slurm/start.sh: cancel its jobs,
# then stop slurmd, slurmctld, slurmdbd, mariadbd and munged by their pid files
# (TERM, then KILL after a grace period), and parks /etc/slurm/slurm.conf as
# slurm.conf.stopped (see the end). Never fails; safe to run when nothing is
# running.
set +e

# stop_group PIDFILE:COMM...: TERM each pid that is still that daemon, wait for
# all of them (up to 10 s), then KILL what is left. Removes the pid files.
stop_group() {
  local item pidfile comm pid i pids=() names=()
  for item in "$@"; do
    pidfile=${item%%:*}; comm=${item##*:}
    [ -s "$pidfile" ] || continue
    pid=$(tr -dc '0-9' < "$pidfile")
    if [ -n "$pid" ] && [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$comm" ]; then
      kill -TERM "$pid" 2>/dev/null && { pids+=("$pid"); names+=("$comm"); }
    fi
    rm -f "$pidfile"
  done
  for ((i = 0; i < 100; i++)); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for i in "${!pids[@]}"; do
    if kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "[slurm/stop] ${names[$i]} (${pids[$i]}) ignored TERM; killing"
      kill -KILL "${pids[$i]}" 2>/dev/null
    fi
    echo "[slurm/stop] stopped ${names[$i]} (${pids[$i]})"
  done
}

# Jobs still running would leave slurmstepd/job processes behind.
if [ -s /run/slurmctld.pid ] && command -v squeue >/dev/null; then
  jobs=$(timeout 5 squeue -h -o %i 2>/dev/null)
  if [ -n "$jobs" ]; then
    timeout 5 scancel $jobs 2>/dev/null
    for ((i = 0; i < 50; i++)); do    # up to 5 s for the steps to end
      [ -z "$(timeout 5 squeue -h -t R,CG -o %i 2>/dev/null)" ] && break
      sleep 0.1
    done
  fi
fi

# In dependency order: the slurm daemons need slurmdbd and munge while they shut
# down, slurmdbd needs MariaDB and munge.
stop_group /run/slurmd.pid:slurmd /run/slurmctld.pid:slurmctld
stop_group /run/slurmdbd.pid:slurmdbd
stop_group /run/mysqld/mysqld.pid:mariadbd /run/munge/munged.pid:munged

# With slurm.conf present but no slurmctld, every `scontrol show config` retries
# for ~10 s, and snakemake-executor-plugin-slurm 2.8.0 runs that at import time,
# i.e. on EVERY snakemake call (even local ones). Park the config (start.sh
# writes a new one) so that SLURM commands fail at once instead.
if [ -f /etc/slurm/slurm.conf ] && ! pgrep -x slurmctld >/dev/null; then
  mv -f /etc/slurm/slurm.conf /etc/slurm/slurm.conf.stopped
fi
exit 0
