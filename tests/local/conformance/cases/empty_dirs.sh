# Issue 8, items 3 and 7: a job's empty directories, symlinks and modes come back (a
# repository or a build tree that arrives without them is broken).
JOB='
mkdir -p out/empty out/a/b/c out/mode700; chmod 700 out/mode700
ln -s a/b out/link; ln -s ../missing out/dangling
echo f > out/a/file
'
