"""How evenly the kernel spreads loopback connections over SO_REUSEPORT listeners.

Backs the choice of one acceptor dealing connections round-robin in sharded sockets
(docs/architecture.md). Run: python3 bench/tools/reuseport_spread.py"""
import socket, collections, statistics
def trial(n_clients):
    ls = []
    port = None
    for i in range(2):
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind(('127.0.0.1', port or 0)); s.listen(1024); s.setblocking(False)
        port = s.getsockname()[1]; ls.append(s)
    cs = [socket.create_connection(('127.0.0.1', port)) for _ in range(n_clients)]
    counts = []
    for s in ls:
        c = 0
        while True:
            try: a, _ = s.accept(); a.close(); c += 1
            except BlockingIOError: break
        counts.append(c)
    for c in cs: c.close()
    for s in ls: s.close()
    return counts
for n in (2, 4, 10, 100):
    imb = []
    for t in range(200):
        c = trial(n); imb.append(max(c) - min(c))
    worst = sum(1 for x in imb if x == n)
    print(f"{n} clients over 2 REUSEPORT listeners, 200 trials: mean |a-b| = {statistics.mean(imb):.2f}, all on one core in {worst} trials, max imbalance {max(imb)}")
