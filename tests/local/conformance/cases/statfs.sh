# Issue 8, item 6: statfs/statvfs answer plausible numbers (the submit side's file system):
# compared for plausibility (non-zero sizes, free <= total, a name length limit), not equality.
JOB='
stat -f -c "%b %a %f %S %l" . | awk "{ print \"blocks>0:\", (\$1>0), \"avail>0:\", (\$2>0), \"avail<=free<=blocks:\", (\$2<=\$3 && \$3<=\$1), \"bsize>0:\", (\$4>0), \"namemax>=255:\", (\$5>=255) }"
python3 -c "
import os
s = os.statvfs(\".\")
print(\"statvfs f_bavail*f_frsize > 1 MiB:\", s.f_bavail * s.f_frsize > 1 << 20)
print(\"f_files>0:\", s.f_files > 0)
"
df -P . >/dev/null 2>&1; echo "df: rc=$?"
'
NO_TREE=1
