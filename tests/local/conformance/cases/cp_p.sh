# Issue 8, items 2 and 3: cp -p keeps mode and times (utimensat, fchmod).
setup() {
  echo "source" >src; chmod 640 src; touch -d @981173106 src
  echo "exe" >tool; chmod 755 tool; touch -d @1000000000 tool
}
MTIME_PATHS=(src tool copy copytool)
JOB='
cp -p src copy 2>&1; echo "cp -p src: rc=$?"
cp -p tool copytool 2>&1; echo "cp -p tool: rc=$?"
stat -c "%a %Y %s %n" copy copytool
'
