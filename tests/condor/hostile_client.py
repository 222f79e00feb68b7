#!/usr/bin/python3
"""Hostile clients of ringbox's root service (tests/condor/service_confinement.sh).

usage: hostile_client.py SOCKET SCRATCH_DIR

Each case connects as this (unprivileged) process, sends what a broken or malicious wrapper
would, and expects a clean refusal (op=result kind=failed with a telling message), never a
hang or a crashed service. Frames are built here from the format in
host/service/service_protocol.h.
"""
import array
import os
import socket
import struct
import sys

SOCK, SCRATCH = sys.argv[1], sys.argv[2]


def frame(fields):
    payload = b"".join(struct.pack("<I", len(k)) + k + struct.pack("<I", len(v)) + v
                       for k, v in fields)
    return struct.pack("<I", len(payload)) + payload


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("the service hung up without a result")
        buf += chunk
    return buf


def read_result(s):
    s.settimeout(30)
    (n,) = struct.unpack("<I", recv_exact(s, 4))
    payload, out, off = recv_exact(s, n), {}, 0
    while off < len(payload):
        (kl,) = struct.unpack_from("<I", payload, off)
        k = payload[off + 4:off + 4 + kl].decode()
        off += 4 + kl
        (vl,) = struct.unpack_from("<I", payload, off)
        out.setdefault(k, payload[off + 4:off + 4 + vl].decode(errors="replace"))
        off += 4 + vl
    return out


def send_with_fds(s, data, fds):
    s.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])


RUN = [(b"op", b"run"), (b"mode", b"remote-io"), (b"arg", b"./job.sh")]
d = os.open(SCRATCH, os.O_RDONLY | os.O_DIRECTORY)
w = os.open("/dev/null", os.O_WRONLY)
r = os.open("/dev/null", os.O_RDONLY)
f = os.open(os.path.join(SCRATCH, "job.sh"), os.O_RDONLY)

cases = [
    ("a frame longer than the limit", lambda s: s.sendall(struct.pack("<I", 0xFFFFFFFF)),
     "limit"),
    ("a field that overruns its frame",
     lambda s: s.sendall(struct.pack("<I", 8) + struct.pack("<I", 200) + b"abcd"), "overruns"),
    ("a job request without descriptors", lambda s: s.sendall(frame(RUN)), "3 descriptors"),
    ("stdout open only for reading", lambda s: send_with_fds(s, frame(RUN), [d, r, w]),
     "not open for writing"),
    ("an export that is not a directory", lambda s: send_with_fds(s, frame(RUN), [f, w, w]),
     "not a directory"),
    ("a stop before any job", lambda s: s.sendall(frame([(b"op", b"stop")])),
     "expected a job request"),
    ("a request cut short, then silence", lambda s: s.sendall(struct.pack("<I", 100) + b"x"),
     "in time"),
    ("a mode ringbox does not run",
     lambda s: send_with_fds(s, frame([(b"op", b"run"), (b"mode", b"node"), (b"arg", b"x")]),
                             [d, w, w]), "not one ringbox runs"),
]
failed = 0
for name, send, expect in cases:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(SOCK)
    send(s)
    try:
        res = read_result(s)
    except Exception as e:  # noqa: BLE001 - any failure to answer is the test's failure
        res = {"error": str(e)}
    ok = res.get("kind") == "failed" and expect in res.get("message", "")
    print(("ok   " if ok else "FAIL ") + name + ": " + repr(res))
    failed += not ok
    s.close()
sys.exit(1 if failed else 0)
