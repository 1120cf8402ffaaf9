convert small.txt small.bin
info small.bin
info small.txt
convert --to text small.bin back.txt
info back.txt
convert --chunk-intervals 5 --description "three chunks" small.txt chunks.bin
info chunks.bin
convert --to json small.txt x
convert --chunk-intervals 0 small.txt x
