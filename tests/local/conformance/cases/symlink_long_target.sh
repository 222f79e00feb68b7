# Issue 8, item 7: Linux stores any symlink text up to PATH_MAX-1 bytes; a component of 256
# bytes in the target (not a name in this directory) is allowed. (A target leaving the export
# is refused by design: ringbox_proto.h kSymlink, docs/modes.md; not tested here.)
JOB='
t=$(printf "%0256d" 0)/x
ln -s "$t" l 2>&1; echo "ln -s (256-byte component): rc=$?"
readlink l | wc -c
ln -s "$(printf "%04000d" 0)" l2 2>&1; echo "ln -s (4000-byte text): rc=$?"
readlink l2 | wc -c
ln -s "a/../b" l3 2>&1; echo "ln -s (dotdot text): rc=$?"; readlink l3
'
