convert --synthetic blocks=300,intervals=40,seed=7,phase=10,drift=0.5 syn.bin
info syn.bin
replay --predictor last,recent,freq --window 1,4,8 syn.bin
convert --synthetic blocks=0 x.bin
convert --synthetic colour=blue x.bin
