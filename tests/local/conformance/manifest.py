#!/usr/bin/python3
"""Prints a tree as one line per entry, for comparing the job's export with a local directory.

Usage: manifest.py DIR [MTIME_GLOB...]

Each line: path, type (f d l p s ?), permission bits with setuid/setgid/sticky (octal), and per
type: f: size, sha256, link count, link group (the first path, in walk order, naming the same
inode); d: nothing more (a directory's size and link count depend on the file system); l: the
link text. Modification times (ns) are printed only for paths matching an MTIME_GLOB: the
times a test sets itself; the others necessarily differ between two runs.

Normalised, because they must differ between a local directory and the export: inode numbers
(replaced by the link group), owners (the export is the submit side's, the reference is the
job's uid), times not set by the test, directory sizes. Path components longer than 40
characters are printed as <LEN:SHA8> so that deep trees stay readable; two different names still
print differently. The walk uses directory descriptors, so paths longer than PATH_MAX work.
"""
import fnmatch
import hashlib
import os
import stat
import sys


def show(path):
    out = []
    for c in path.split("/"):
        if len(c) > 40:
            c = "<%d:%s>" % (len(c), hashlib.sha256(c.encode("utf-8", "surrogateescape")).hexdigest()[:8])
        out.append(c)
    return "/".join(out)


def sha256_at(dirfd, name):
    h = hashlib.sha256()
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dirfd)
    try:
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            h.update(b)
    finally:
        os.close(fd)
    return h.hexdigest()


def main():
    top = sys.argv[1]
    globs = sys.argv[2:]
    groups = {}
    lines = []
    for root, dirs, files, dirfd in os.fwalk(top, follow_symlinks=False):
        dirs.sort()
        rel_root = os.path.relpath(root, top)
        for name in sorted(dirs + files):
            rel = name if rel_root == "." else rel_root + "/" + name
            st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
            m = st.st_mode
            perm = "%04o" % stat.S_IMODE(m)
            if stat.S_ISREG(m):
                key = (st.st_dev, st.st_ino)
                group = groups.setdefault(key, rel)
                extra = "size=%d sha256=%s nlink=%d group=%s" % (
                    st.st_size, sha256_at(dirfd, name)[:16], st.st_nlink, show(group))
                t = "f"
            elif stat.S_ISDIR(m):
                t, extra = "d", ""
            elif stat.S_ISLNK(m):
                t, extra = "l", "-> " + show(os.readlink(name, dir_fd=dirfd))
            elif stat.S_ISFIFO(m):
                t, extra = "p", ""
            elif stat.S_ISSOCK(m):
                t, extra = "s", ""
            else:
                t, extra = "?", ""
            if any(fnmatch.fnmatchcase(rel, g) for g in globs):
                extra += " mtime=%d" % st.st_mtime_ns
            # The mode of a symlink is always 0777 on Linux and says nothing.
            if t == "l":
                perm = "-"
            lines.append("%s %s %s %s" % (show(rel), t, perm, extra))
    sys.stdout.write("".join(l.rstrip() + "\n" for l in lines))


if __name__ == "__main__":
    main()
