# Issue 8, item 2: install -m sets the mode it is given (fchmod after create).
setup() { echo "#!/bin/sh" >script.in; echo "echo installed" >>script.in; }
JOB='
install -m 755 script.in bin/tool 2>&1; echo "install (no dir): rc=$?"
install -d -m 750 bin 2>&1; echo "install -d: rc=$?"
install -m 755 script.in bin/tool 2>&1; echo "install -m 755: rc=$?"
install -m 4755 script.in bin/suid 2>&1; echo "install -m 4755: rc=$?"
./bin/tool 2>&1; echo "./bin/tool: rc=$?"
stat -c "%a %n" bin bin/tool
'
post() { stat -c '%a' bin/suid 2>&1 | sed 's/^[0-7]*\([0-7][0-7][0-7]\)$/low bits \1/'; }
NO_TREE=1
