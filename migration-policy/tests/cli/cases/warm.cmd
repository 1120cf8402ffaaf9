# migpolicy warm: show a hot list, and the usage errors (record and apply
# on real caches are tested by test-warm and tests/warm/test_warm_cli.py).
warm info warm-small.hot
warm info --ranges warm-small.hot
warm info - < warm-small.hot
warm info warm-truncated.hot
warm info crc.bin
warm info missing.hot
warm info
warm
warm bogus
warm record -o out.hot
warm record --file warm-small.hot
warm record --file warm-small.hot -o out.hot --samples 86
warm record --file warm-small.hot -o out.hot --sources mincore,bogus
warm record --pid 0 -o out.hot
warm apply
warm apply warm-small.hot --budget 0
warm apply warm-small.hot --rate fast
warm apply warm-small.hot --deadline -1
warm apply warm-small.hot --map relative=/x
warm apply warm-small.hot --min-heat 256
warm apply warm-small.hot --chunk 1K
warm apply warm-small.hot --progress sometimes
warm apply warm-truncated.hot
warm check warm-small.hot
