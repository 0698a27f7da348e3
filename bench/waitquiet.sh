#!/bin/bash
# Waits until the machine is >= 90% idle over a 2 s window of /proc/stat, for at most $1 seconds
# (default 60). Prints one line: UTC timestamp, quiet / NOT quiet, the idle share of the last
# window, the seconds waited and /proc/loadavg. Exit 0 when quiet, 1 when it never got quiet
# (the caller warns and goes on). Same logic as ../shared/peers/waitquiet.sh, our own copy.
max=${1:-60}; start=$(date +%s)
while :; do
  read -r _ u n s i w x y z _ < /proc/stat; t1=$((u+n+s+i+w+x+y+z)); i1=$((i+w))
  sleep 2
  read -r _ u n s i w x y z _ < /proc/stat; t2=$((u+n+s+i+w+x+y+z)); i2=$((i+w))
  idle=$(( 100*(i2-i1)/(t2-t1 > 0 ? t2-t1 : 1) ))
  waited=$(( $(date +%s)-start ))
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  if [ "$idle" -ge 90 ]; then
    echo "$(date -u +%FT%TZ) quiet (idle ${idle}% over 2 s) after ${waited}s; loadavg ${load}"; exit 0
  fi
  if [ "$waited" -ge "$max" ]; then
    echo "$(date -u +%FT%TZ) NOT quiet (idle ${idle}% over 2 s) after ${waited}s; loadavg ${load}"; exit 1
  fi
done
