# simulate: every bad flag and value is named; bad usage exits 2, failures 1.
simulate --bandwidth fast
simulate --bandwidth -5
simulate --ram 1X
simulate --ram 0
simulate --ram 1000 --touched 0
simulate --touched 2GiB
simulate --touched 100MiB --write-hot 80MiB --read-hot 40MiB
simulate --page-size 1000
simulate --dirty-rate lots
simulate --rtt-ms -1
simulate --downtime-limit-ms 0
simulate --timeout-s abc
simulate --strategy precopy,zerocopy
simulate --strategy ,
simulate --predictor oracle
simulate --window 0
simulate --accel hvf
simulate --workload fio
simulate --workload memload:w=2048
simulate --workload memload:q=1
simulate --trace sim-trace.txt --ram 1GiB
simulate --trace sim-trace.txt --workload wh64
simulate --trace sim-trace.txt --history 40
simulate --trace missing.bin
simulate --trace crc.bin
simulate --validate missing.jsonl
simulate --validate results.jsonl --trace sim-trace.txt
simulate --frob
simulate extra
