#!/usr/bin/env bash
# Policy and confinement through the view (remote-io or lazy-file):
#  - a file the policy does not let the job read fails with EACCES ("Permission denied" on
#    the job's stderr), and listing its directory does not show it;
#  - nothing outside the export is reachable: "..", and symlinks planted in the export that
#    point outside it (absolute, to a file and to a directory, and relative ones climbing out)
#    never yield the outside file's contents;
#  - the job cannot plant an absolute symlink (EXDEV from the host);
#  - a write the policy does not allow is refused: at once in remote-io (EACCES), and at
#    write-back in lazy-file (the run exits 125, saying which output was not returned),
#    while the allowed output still arrives and the refused one never appears.
source "$(dirname "$0")/lib.sh"
MODE=${1:?usage: policy.sh auto|remote-io|lazy-file}

mkdir -p "$EXPORT/pub" "$EXPORT/private" "$EXPORT/out" "$T/outside_dir"
echo "public data" >"$EXPORT/pub/ok.txt"
echo "PRIVATE-MARKER" >"$EXPORT/private/secret.txt"
echo "OUTSIDE-MARKER" >"$T/outside.txt"
echo "OUTSIDE-DIR-MARKER" >"$T/outside_dir/file"
chmod 0600 "$T/outside.txt" "$T/outside_dir/file"
chmod 0700 "$T/outside_dir"
ln -s "$T/outside.txt" "$EXPORT/pub/abs"
ln -s "$T/outside_dir" "$EXPORT/pub/absdir"
ln -s ../../outside.txt "$EXPORT/pub/rel"
ln -s ../../outside_dir/file "$EXPORT/pub/reldir"

run_job "$MODE" --readable pub --writable out -- sh -c '
  cat pub/ok.txt
  cat private/secret.txt;    echo "private=$?"
  ls private;                echo "lsprivate=$?"
  ls . | sort | tr "\n" " "; echo
  cat pub/abs;               echo "abs=$?"
  cat pub/absdir/file;       echo "absdir=$?"
  cat pub/rel;               echo "rel=$?"
  cat pub/reldir;            echo "reldir=$?"
  cat ../outside.txt;        echo "dotdot=$?"
  cat ../../outside.txt;     echo "dotdot2=$?"
  cat pub/../../outside.txt; echo "dotdot3=$?"
  ln -s /etc/passwd out/link; echo "abslink=$?"
  echo fine > out/ok.txt;    echo "out=$?"
  exit 0'
expect_rc 0 "$MODE policy job"
expect_grep "public data" "$OUT" "readable file"
for probe in private lsprivate abs absdir rel reldir dotdot dotdot2 dotdot3 abslink; do
  grep -q "^$probe=[1-9]" "$OUT" || {
    dump
    fail "$MODE: probe '$probe' succeeded; it must fail"
  }
done
expect_grep "private/secret.txt: Permission denied" "$ERR" "EACCES for a file the policy hides"
expect_grep "^out=0" "$OUT" "write into a writable directory"
expect_no_grep "MARKER" "$OUT" "nothing outside the policy or the export was read"
expect_no_grep "private" <(grep -v "=" "$OUT") "the listing of the root hides private/"
[ -L "$EXPORT/out/link" ] && fail "$MODE: the job planted an absolute symlink"
printf 'fine\n' >"$T/ok.expected"
expect_same "$T/ok.expected" "$EXPORT/out/ok.txt" "allowed output"
expect_clean "$MODE policy job"

# A write outside the writable paths.
rm -f "$EXPORT/out/ok.txt"
run_job "$MODE" --readable pub --writable out -- sh -c '
  echo sneaky > pub/new.txt; echo "pubwrite=$?"
  echo fine > out/ok.txt
  exit 0'
if [ "$MODE" = remote-io ]; then
  expect_rc 0 "remote-io job with a refused write"
  expect_grep "^pubwrite=[1-9]" "$OUT" "the refused write fails in the job"
  expect_grep "Permission denied" "$ERR" "EACCES for the refused write"
else
  expect_rc 125 "lazy-file job whose output is refused at write-back"
  expect_grep "output not returned: pub/new.txt" "$ERR" "the agent names the refused output"
  expect_grep "could not be returned" "$HOSTLOG" "ringbox-host says why it exits 125"
fi
expect_absent "$EXPORT/pub/new.txt" "$MODE refused output"
expect_same "$T/ok.expected" "$EXPORT/out/ok.txt" "allowed output next to a refused one"
expect_clean "$MODE refused write"
echo "PASS: $MODE"
