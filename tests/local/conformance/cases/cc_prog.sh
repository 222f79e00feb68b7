# Issue 8, item 2: the compiler creates the program with mode 0777 & ~umask; the job runs it.
JOB='
umask 022
cat > prog.c <<EOC
#include <stdio.h>
int main(void) { puts("hello from prog"); return 0; }
EOC
cc -o prog prog.c 2>&1; echo "cc: rc=$?"
./prog 2>&1; echo "./prog: rc=$?"
stat -c "%a %n" prog
'
