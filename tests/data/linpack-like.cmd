# Regression fixture: linpack-like.trace (a synthetic LINPACK-shaped trace
# from make_linpack_like.py until a recorded one replaces it; see README.md).
# Regenerate the expected output after an intended change:
#   migration-policy/tests/cli/run.py --migpolicy build/meson/migration-policy/migpolicy \
#       --cases-dir tests/data --inputs-dir tests/data --regen
info linpack-like.trace
replay --predictor last,recent,freq --window 1,2,4,8,16 --csv replay.csv linpack-like.trace
@cat replay.csv
simulate --trace linpack-like.trace -b 1gbit --rtt-ms 1 -p last -w 4
simulate --trace linpack-like.trace -b 100MB/s -s predictive,postcopy -p freq -w 4 --json
