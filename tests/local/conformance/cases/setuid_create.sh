# Issue 8, item 2: a non-root job creates a file with the setuid bit and writes to it: Linux
# allows the write and clears the bit (a non-root writer kills suid). setuid/setgid never reach
# the submit side (the host strips them: issue 8, Deliver 1), so the export is checked for the
# permission bits only, and separately (check_view) for the absence of setuid/setgid. After
# chmod 4755 only the low bits are compared: whether the job still sees the bit depends on the
# mode (remote-io shows the host's stored, stripped mode; docs/modes.md).
JOB='
python3 -c "
import os
fd = os.open(\"s\", os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o4755)
try:
    os.write(fd, b\"data\\n\"); print(\"write: ok\")
except OSError as e:
    print(\"write:\", os.strerror(e.errno))
os.close(fd)
print(\"mode after write\", oct(os.stat(\"s\").st_mode & 0o7777))
fd = os.open(\"g\", os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o755); os.close(fd)
try:
    os.chmod(\"g\", 0o4755); print(\"chmod 4755: ok\", oct(os.stat(\"g\").st_mode & 0o777))
except OSError as e:
    print(\"chmod 4755:\", os.strerror(e.errno))
"
cat s
'
post() { for f in s g; do [ -e $f ] && echo "$f $(( $(stat -c '0%a' $f) & 0777 )) $(cat $f)"; done; }
NO_TREE=1
check_view() {
  local bad
  bad=$(find "$EXPORT" -perm /6000 -printf '%m %P\n')
  [ -z "$bad" ] || { FAILED+=("setuid/setgid reached the export"); echo "CHECK setuid on the submit side: $bad" >&2; }
}
