# Issue 8, item 4: a writer does os.replace("f.tmp", "f") 300 times while a reader opens and
# reads f in a loop: on a local file system no open ever fails (rename(2) is atomic: "a link
# named new shall remain visible to other threads throughout the renaming operation").
setup() { echo "version 0" >f; }
JOB='
python3 -c "
import os, threading, errno
done = False
errors = {}
reads = 0
def reader():
    global reads
    while not done:
        try:
            with open(\"f\") as fh:
                if not fh.read().startswith(\"version \"): errors[\"bad content\"] = errors.get(\"bad content\", 0) + 1
            reads += 1
        except OSError as e:
            errors[errno.errorcode[e.errno]] = errors.get(errno.errorcode[e.errno], 0) + 1
t = threading.Thread(target=reader); t.start()
for i in range(1, 301):
    with open(\"f.tmp\", \"w\") as fh: fh.write(\"version %d\\n\" % i)
    os.replace(\"f.tmp\", \"f\")
done = True; t.join()
print(\"open/read errors:\", sorted(errors.items()) or \"none\")
print(\"reads > 0:\", reads > 0)
"
cat f
'
