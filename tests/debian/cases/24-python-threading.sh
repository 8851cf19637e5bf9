python3 -c '
import threading, queue
q = queue.Queue(); total = [0]; lock = threading.Lock()
def worker():
    while True:
        n = q.get()
        if n is None: break
        with lock: total[0] += n
ts = [threading.Thread(target=worker) for _ in range(4)]
[t.start() for t in ts]
for i in range(1, 10001): q.put(i)
for _ in ts: q.put(None)
[t.join() for t in ts]
print(total[0])
b = threading.Barrier(3); out = []
def f(i):
    b.wait(); out.append(i)
ts = [threading.Thread(target=f, args=(i,)) for i in range(3)]
[t.start() for t in ts]; [t.join() for t in ts]; print(sorted(out))'
