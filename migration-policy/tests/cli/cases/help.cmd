# Every --help tells the truth; unknown commands and options are usage errors.
--help
info --help
convert --help
replay --help
record
simulate
frobnicate
info --frob
info
