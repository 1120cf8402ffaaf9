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
