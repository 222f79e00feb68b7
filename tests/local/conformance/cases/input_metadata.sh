# Issue 8, item 3 (eager): staged inputs carry the submit side's mtimes and modes; an
# executable input runs; an input the job does not touch keeps its time in the export.
setup() {
  echo data >in.txt; chmod 640 in.txt; touch -d @981173106 in.txt
  printf '#!/bin/sh\necho script ran\n' >run.sh; chmod 755 run.sh; touch -d @981173107 run.sh
  mkdir -p sub; echo s >sub/s; chmod 600 sub/s; touch -d @981173108 sub/s
}
MTIME_PATHS=(in.txt run.sh sub/s out)
JOB='
stat -c "%a %Y %s %n" in.txt run.sh sub/s
./run.sh 2>&1
echo out > out; touch -d @1000000000 out
'
