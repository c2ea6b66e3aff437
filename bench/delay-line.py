#!/usr/bin/env python3
"""A packet delay line between two TUN devices, for kernels without sch_netem.

    delay-line.py TUN_A TUN_B DELAY_MS RATE_BIT_PER_S LIMIT_PACKETS

Attaches to the persistent TUN devices TUN_A and TUN_B (made beforehand with
`ip tuntap add`; the caller may move one into a network namespace afterwards)
and forwards every IP packet read from one to the other. Until it receives
SIGUSR1 it forwards at once; from then on each direction behaves like
`netem delay DELAY rate RATE limit LIMIT`: a packet is serialised at RATE
behind the packets before it, then held for DELAY, in order, and dropped when
LIMIT packets are already queued. Because the delay acts on packets, TCP sees
the real round trip: handshakes, slow start and window growth cost what they
would across a WAN. Prints "ready" once both devices are attached.
"""

import collections
import fcntl
import os
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
# netem on a veth counts the Ethernet header a TUN packet lacks.
ETHERNET_HEADER = 14
# Timers wake up late rather than early; a packet due this soon goes now.
EARLY = 0.0002


def attach(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def send(fd, packet):
    try:
        os.write(fd, packet)
    except OSError:
        pass  # refused (the device is not up yet, say): a packet lost, as on a wire


class Direction:
    """Packets read from one device, waiting to be written to the other."""

    def __init__(self, out):
        self.out = out
        self.queue = collections.deque()  # (due, packet), due in order
        self.busy_until = 0.0  # when the emulated link finishes sending what it holds


def main():
    name_a, name_b = sys.argv[1], sys.argv[2]
    delay = float(sys.argv[3]) / 1000
    byte_rate = float(sys.argv[4]) / 8
    limit = int(sys.argv[5])
    a, b = attach(name_a), attach(name_b)
    directions = {a: Direction(b), b: Direction(a)}
    shaped = [False]
    signal.signal(signal.SIGUSR1, lambda *_: shaped.__setitem__(0, True))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    poller = select.epoll()
    poller.register(a, select.EPOLLIN)
    poller.register(b, select.EPOLLIN)
    print("ready", flush=True)
    now = time.monotonic
    while True:
        t = now()
        next_due = None
        for d in directions.values():
            q = d.queue
            while q and q[0][0] <= t + EARLY:
                send(d.out, q.popleft()[1])
            if q and (next_due is None or q[0][0] < next_due):
                next_due = q[0][0]
        timeout = -1 if next_due is None else max(0.0, next_due - now())
        try:
            events = poller.poll(timeout)
        except InterruptedError:
            continue
        for fd, _ in events:
            d = directions[fd]
            for _ in range(64):
                try:
                    packet = os.read(fd, 65536)
                except BlockingIOError:
                    break
                if not shaped[0]:
                    send(d.out, packet)
                    continue
                if len(d.queue) >= limit:
                    continue  # tail drop, as netem does past its limit
                t = now()
                sent = max(t, d.busy_until) + (len(packet) + ETHERNET_HEADER) / byte_rate
                d.busy_until = sent
                d.queue.append((sent + delay, packet))


if __name__ == "__main__":
    main()
