# Issue 8, item 2: new files and directories get the mode the program asked for, less the
# caller's umask (022 here), as open(2)/mkdir(2) say.
JOB='
umask 022
touch plain; mkdir dir; mkdir -m 700 private; mkdir -m 1777 sticky
python3 -c "
import os
for name, mode in ((\"m600\", 0o600), (\"m755\", 0o755), (\"m444\", 0o444), (\"m777\", 0o777)):
    fd = os.open(name, os.O_CREAT | os.O_WRONLY | os.O_EXCL, mode); os.write(fd, b\"x\"); os.close(fd)
"
stat -c "%a %F %n" plain dir private sticky m600 m755 m444 m777
'
