# Deliver 1: chown to the job's own ids succeeds (a no-op), to others EPERM (chown(2): only a
# privileged process may change the owner; the group only to one of the caller's groups).
setup() { echo in >in.txt; }
JOB='
echo x > f
chown 65534:65534 f 2>&1; echo "chown own ids: rc=$?"
chown 65534 in.txt 2>&1; echo "chown own uid (input): rc=$?"
chown 0 f 2>&1; echo "chown root: rc=$?"
chgrp 0 f 2>&1; echo "chgrp root: rc=$?"
python3 -c "
import os
os.chown(\"f\", -1, -1); print(\"chown -1 -1: ok\")
try: os.chown(\"f\", 1, -1)
except OSError as e: print(\"chown 1:\", os.strerror(e.errno))
"
stat -c "%u %g %n" f in.txt
'
