# The cost model: defaults, harness workloads, a synthetic description,
# every strategy, JSON, a trace, and --validate on harness records.
# simulate --help: see help.cmd
simulate
simulate --workload wh64
simulate --workload wh64 --ram 1GiB -b 1gbit --strategy precopy,predictive --json
simulate --workload memload:w=8,r=4,c=4 --ram 256MiB -b unlimited --rtt-ms 10
simulate --workload linpack:n=3000 --accel kvm -b 10gbit --downtime-limit-ms 100
simulate --ram 2GiB --touched 600MiB --write-hot 256MiB --read-hot 64MiB --dirty-rate 20000 -b 100MB/s --rtt-ms 5 --timeout-s 60
simulate --ram 1G --touched 300M --write-hot 100M --dirty-rate 1e5 --strategy predictive --history 0 --window 8 --interval-ms 250
simulate --trace sim-trace.txt -b 10MB/s
simulate --trace sim-trace.txt -b 10MB/s --rtt-ms 20 -s predictive,postcopy-after-precopy -p freq:k=4 --window 2 --history 6
simulate --trace sim-trace.txt -b 10MB/s -s predictive --json
simulate --validate results.jsonl
simulate --validate results.jsonl --json
simulate --workload wh64 -s precopy-autoconverge,postcopy-after-precopy --cap-only
