# Regression fixture recorded from a real guest: linpack N=1000 in a 256 MiB
# TCG guest of the fork, 40 s at 500 ms, 16-page blocks, TCG accessed bits
# (scripts/record-linpack.sh --ns 1000 --seconds 40 --ram-mib 256).
# Regenerate the expected output after an intended change:
#   migration-policy/tests/cli/run.py --migpolicy build/meson/migration-policy/migpolicy \
#       --cases-dir tests/data --inputs-dir tests/data --regen
info linpack-n1000.trace
replay --predictor last,recent,freq --window 1,2,4,8,16 --csv replay.csv linpack-n1000.trace
@cat replay.csv
simulate --trace linpack-n1000.trace -b 1gbit --rtt-ms 1 -p last -w 4
simulate --trace linpack-n1000.trace -b 100MB/s -s predictive,postcopy -p recent -w 4 --json
