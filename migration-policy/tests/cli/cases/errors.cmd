replay --window 0 small.txt
replay --window abc small.txt
replay --window 5-2 small.txt
replay --predictor bogus small.txt
replay --predictor recent:k=0 small.txt
replay --predictor freq:m=9 small.txt
info missing.bin
info bad-char.txt
info truncated.bin
info crc.bin
replay crc.bin
# replica: each subcommand takes only its own options.
replica verify --replica r --passes 1
replica frob
replica refresh --source-ram s --socket k --hot-min 5
# emulator: its own options before --, --qemu required.
emulator --bogus
emulator -- -m 64
