# Issue 8, item 8: FIFOs and Unix-domain sockets can be made anywhere in the view and work.
# They live in the guest and by design never go to the submit side: the case leaves one of
# each behind, the reference's tree is compared without them (LOCAL_IPC_ONLY), and the export
# must hold no FIFO or socket at all (check_view).
JOB='
mkfifo p 2>&1; echo "mkfifo: rc=$?"
[ -p p ] && echo "p is a FIFO"
(echo "through the fifo" > p &) ; cat p
python3 -c "
import socket, os, threading
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.bind(\"sock\"); s.listen(1); print(\"bind: ok\")
except OSError as e:
    print(\"bind:\", os.strerror(e.errno)); raise SystemExit
import stat
print(\"sock is a socket:\", stat.S_ISSOCK(os.lstat(\"sock\").st_mode))
def serve():
    c, _ = s.accept(); c.sendall(c.recv(100).upper()); c.close()
t = threading.Thread(target=serve); t.start()
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); c.connect(\"sock\")
c.sendall(b\"hello\"); print(\"reply:\", c.recv(100)); c.close(); t.join()
"
python3 -c "import os; os.mknod(\"p2\", 0o600 | __import__(\"stat\").S_IFIFO); print(\"mknod fifo: ok\")" 2>&1 | tail -1
ls -F | sort
rm -f p p2 sock
mkdir -p keep && mkfifo keep/fifo && python3 -c "import socket; socket.socket(socket.AF_UNIX).bind(\"keep/sock\")"
'
LOCAL_IPC_ONLY=1
check_view() {
  local ipc
  ipc=$(find "$EXPORT" \( -type p -o -type s \) -printf '%y %P\n')
  [ -z "$ipc" ] || { FAILED+=("a FIFO or socket reached the export"); echo "CHECK IPC on the submit side ($MODE): $ipc" >&2; }
}