# Every --help tells the truth; unknown commands and options are usage errors.
--help
info --help
convert --help
replay --help
record --help
record
simulate --help
frobnicate
info --frob
info
# Every command's --help, as generated from its option table where it has one.
policy --help
choose --help
hook-qemu --help
advise --help
migrate --help
emulator --help
sched-stats --help
warm --help
warm record --help
warm apply --help
warm check --help
warm info --help
replica --help
replica init --help
replica receive --help
replica refresh --help
replica status --help
replica verify --help
replica choose --help
