# Issue 8, Deliver 2: rename and unlink as POSIX says, for inputs and for files only the job
# made: rename over an input, unlink an input, rename a directory holding new files, remove
# a tree, rename onto itself, rmdir of a non-empty directory.
setup() { echo in1 >in1; echo in2 >in2; mkdir -p ind; echo x >ind/x; echo gone >gone; }
JOB='
echo new > n1; mv n1 in1; cat in1
mv in2 moved_in2; cat moved_in2
rm gone; [ -e gone ] || echo "gone removed"
mkdir -p t/u; echo deep > t/u/v; mv t t2; cat t2/u/v
mv ind/x ind/y; cat ind/y
rm -r t2; [ -e t2 ] || echo "t2 removed"
echo s > same; mv same same 2>&1; cat same
mkdir ne; echo z > ne/z; rmdir ne 2>&1 | sed "s/.*: //"
ln -s in1 sl; mv sl sl2; readlink sl2
'
