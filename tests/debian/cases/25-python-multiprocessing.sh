python3 -c '
import multiprocessing as mp
def sq(x): return x * x
if __name__ == "__main__":
    with mp.Pool(2) as p:
        print(sum(p.map(sq, range(100))))
    q = mp.Queue(); pr = mp.Process(target=q.put, args=("from child",)); pr.start(); print(q.get()); pr.join(); print(pr.exitcode)
    v = mp.Value("i", 0)
    def inc(v):
        for _ in range(100):
            with v.get_lock(): v.value += 1
    ps = [mp.Process(target=inc, args=(v,)) for _ in range(3)]
    [p.start() for p in ps]; [p.join() for p in ps]; print(v.value)'
