#!/usr/bin/env python3
"""Per-frame chains in a proxy, from `perf script` of raw_syscalls and sched
events recorded on the proxy's threads under a sparse paced load (one
connection): events are grouped into bursts separated by > GAP ms of
silence; each burst is one frame crossing the proxy (or a request). For
each burst: the span from its first event (the wake-up of a proxy thread,
or the exit of the epoll wait) to the end of its last write-like syscall,
its syscalls by name, and its context switches. Bursts after a quiet of
more than QUIET ms (a first frame after thinking, or a request after a
pause) are reported apart.
usage: perf script -i perf.data | hops.py NAME [GAP_MS] [QUIET_MS]"""
import sys, re, statistics
name = sys.argv[1]
GAP = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
QUIET = float(sys.argv[3]) if len(sys.argv) > 3 else 100.0
NR = {0: 'read', 1: 'write', 20: 'writev', 44: 'sendto', 45: 'recvfrom', 46: 'sendmsg', 47: 'recvmsg',
      232: 'epoll_wait', 281: 'epoll_pwait', 441: 'epoll_pwait2', 202: 'futex', 233: 'epoll_ctl', 24: 'sched_yield',
      14: 'rt_sigprocmask', 35: 'nanosleep', 230: 'clock_nanosleep', 228: 'clock_gettime', 39: 'getpid', 186: 'gettid',
      234: 'tgkill', 13: 'rt_sigaction', 15: 'rt_sigreturn', 16: 'ioctl', 288: 'accept4', 3: 'close', 72: 'fcntl',
      55: 'getsockopt', 54: 'setsockopt', 9: 'mmap', 11: 'munmap', 28: 'madvise', 318: 'getrandom'}
WRITES = {'write', 'writev', 'sendto', 'sendmsg'}
line_re = re.compile(r'^\s*(\S.*?)\s+(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s*(.*)$')
evs = []
for line in sys.stdin:
    m = line_re.match(line)
    if not m:
        continue
    comm, tid, cpu, t, ev, rest = m.groups()
    t = float(t) * 1e6  # µs
    if ev.startswith('raw_syscalls:sys_enter'):
        nr = int(re.search(r'NR (-?\d+)', rest).group(1)); kind = ('enter', NR.get(nr, str(nr)))
    elif ev.startswith('raw_syscalls:sys_exit'):
        nr = int(re.search(r'NR (-?\d+)', rest).group(1)); kind = ('exit', NR.get(nr, str(nr)))
    elif ev.startswith('sched:sched_switch'):
        kind = ('switch', '')
    elif ev.startswith('sched:sched_wakeup'):
        kind = ('wakeup', '')
    else:
        continue
    evs.append((t, int(tid), kind))
evs.sort()
bursts, cur, last = [], [], None
for e in evs:
    if last is not None and e[0] - last > GAP * 1000:
        bursts.append(cur); cur = []
    cur.append(e); last = e[0]
if cur:
    bursts.append(cur)
rows = {'steady': [], 'after quiet': []}
prev_end = None
for b in bursts:
    wexit = [e[0] for e in b if e[2][0] == 'exit' and e[2][1] in WRITES]
    if not wexit:
        prev_end = b[-1][0]; continue
    span = wexit[-1] - b[0][0]
    # the span to the first write: the forward of this frame
    first_w = min(wexit) - b[0][0]
    sysc = {}
    for e in b:
        if e[2][0] == 'enter':
            sysc[e[2][1]] = sysc.get(e[2][1], 0) + 1
    sw = sum(1 for e in b if e[2][0] == 'switch')
    thr = len({e[1] for e in b})
    quiet = prev_end is None or b[0][0] - prev_end > QUIET * 1000
    rows['after quiet' if quiet else 'steady'].append((first_w, span, sysc, sw, thr))
    prev_end = b[-1][0]
def pct(v, q):
    v = sorted(v); return v[min(int(q * len(v)), len(v) - 1)]
for k, rs in rows.items():
    if not rs:
        continue
    fw = [r[0] for r in rs]
    allsys = {}
    for r in rs:
        for s, n in r[2].items():
            allsys[s] = allsys.get(s, 0) + n
    top = ', '.join(f'{s} {n / len(rs):.2f}' for s, n in sorted(allsys.items(), key=lambda x: -x[1])[:7])
    print(f'{name:10s} {k:12s} n={len(rs):5d}  wake->first write exit p50 {pct(fw, .5):7.1f} p90 {pct(fw, .9):7.1f} p99 {pct(fw, .99):7.1f} µs'
          f'  switches {statistics.mean(r[3] for r in rs):.2f} threads {statistics.mean(r[4] for r in rs):.2f}  syscalls/burst: {top}')
