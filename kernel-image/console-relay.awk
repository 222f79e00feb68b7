# console-relay.awk: copy the consoles of all guests to dom0's console.
#
# xenconsoled (--log=guest) appends each guest's console to
# <dir>/guest-<name>.log. This program, run by dom0's /init under busybox awk,
# prints every new complete line of every such file, prefixed with "[domU] "
# and without the console's "\r". It reads commands on stdin, one per line:
#   tick    look for new files and new bytes (sent every 0.2 s)
#   flush   the same, then also print unterminated last lines, and exit
# Why not "tail -f": busybox tail polls once a second and splits lines that
# xenconsoled wrote in two pieces. Here a file is read to its current end with
# getline (which, unlike stdio, picks up bytes appended after an end of file),
# and the bytes after the last newline wait until their line is complete.
#
# Usage: ticker | busybox awk -v dir=/var/log/xen/console -f console-relay.awk

BEGIN {
  prefix = "[domU] "
}

function discover(    cmd, name) {
  cmd = "ls " dir " 2>/dev/null"
  while ((cmd | getline name) > 0)
    if (name ~ /^guest-.*\.log$/ && !((dir "/" name) in pending))
      pending[dir "/" name] = ""
  close(cmd)
}

function emit(line) {
  gsub(/\r/, "", line)
  print prefix line
}

function pump(file,    chunk, data, n, i, lines) {
  while ((getline chunk < file) > 0) {
    data = pending[file] chunk
    n = split(data, lines, "\n")
    for (i = 1; i < n; i++)
      emit(lines[i])
    pending[file] = lines[n]
  }
}

function pump_all(    f) {
  discover()
  # Files are read as one record up to their current end (no "\001" in a
  # console); commands on stdin stay one per line.
  RS = "\001"
  for (f in pending)
    pump(f)
  RS = "\n"
  fflush()
}

$0 ~ /tick/ { pump_all() }

$0 ~ /flush/ {
  pump_all()
  for (f in pending)
    if (pending[f] != "")
      emit(pending[f])
  fflush()
  exit 0
}
