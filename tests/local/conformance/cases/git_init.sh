# Issue 8, items 2 and 7: git init makes a repository (chmod, empty directories, hooks with
# mode 0755, config probing filemode); then a commit; the repository must arrive whole.
JOB='
export HOME=$PWD GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_DATE=@981173106 GIT_COMMITTER_DATE=@981173106
git init -q repo 2>&1; echo "git init: rc=$?"
cd repo || exit 1
git config user.email job@example.org && git config user.name job
echo content > file.txt && git add file.txt 2>&1 && git commit -q -m first 2>&1; echo "commit: rc=$?"
git config core.filemode
git rev-parse HEAD
git fsck 2>&1; echo "fsck: rc=$?"
'
# index holds ctime/inode/dev: these must differ; git reads them back itself (fsck, status).
post() {
  [ -d repo ] || { echo "no repo"; return; }
  git -C repo -c safe.directory='*' fsck 2>&1; echo "fsck on the result: $?"
  git -C repo -c safe.directory='*' log --format=%H 2>&1
  find repo -path repo/.git/index -prune -o -printf '%y %m %P\n' | sort
}
NO_TREE=1
