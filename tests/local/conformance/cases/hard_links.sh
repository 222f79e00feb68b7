# Issue 8, items 8 and Deliver 1: hard links within the export: link counts, one inode under
# two names (a write through one is read through the other), unlink of one name.
setup() { echo "input" >in.txt; mkdir -p d; echo keep >d/keep; }
JOB='
echo data > a
ln a b 2>&1; echo "ln a b: rc=$?"
ln a d/c 2>&1; echo "ln a d/c: rc=$?"
ln in.txt in2.txt 2>&1; echo "ln in.txt in2.txt: rc=$?"
stat -c "%h %n" a b d/c in.txt in2.txt 2>&1
echo more >> b; cat a
ln b x; rm b; stat -c "%h %n" a x 2>&1
[ "$(stat -c %i a)" = "$(stat -c %i x)" ] && echo "a and x: same inode"
mkdir dd; ln dd dd2 2>/dev/null; echo "ln of a directory: rc=$?"
'
