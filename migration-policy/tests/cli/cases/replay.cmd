replay small.txt
replay --predictor last,recent:k=2,freq:k=4,spread=1 --window 1-3,6 small.txt
replay --naive --predictor last,recent:k=2,freq:k=4,spread=1 --window 1-3,6 small.txt
replay --predictor freq --window 2 --csv out.csv small.txt
