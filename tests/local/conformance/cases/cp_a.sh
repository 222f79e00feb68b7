# Issue 8, items 2 and 3: cp -a copies a tree with modes, times, symlinks and empty dirs.
setup() {
  mkdir -p tree/sub; echo a >tree/a; chmod 600 tree/a; echo b >tree/sub/b; chmod 755 tree/sub/b
  touch -d @981173106 tree/a tree/sub/b
}
MTIME_PATHS=(copy/a copy/sub/b copy/link)
JOB='
mkdir tree/empty; ln -s sub/b tree/link; touch -h -d @981173106 tree/link
chmod 750 tree/sub
cp -a tree copy 2>&1; echo "cp -a: rc=$?"
find copy | sort | while read -r p; do stat -c "%a %F %n" "$p"; done
stat -c "%Y %n" copy/a copy/sub/b
'
