# The job the back-end tests run (sourced after lib.sh): its data set, the job itself, and how
# two runs of it are compared. backend_vs_chirp_server.sh and htcondor_proxy.sh use it: the same
# job once against a local directory (--export, the reference) and once through Chirp, then
# compare_runs checks that the trees, the job's stdout/stderr and its status are identical.
HOST=$BIN/ringbox-host

# make_inputs DIR: the job's data set (the same bytes in both trees: $WORK/seed.bin).
head -c 3145731 /dev/urandom >"$WORK/seed.bin"
make_inputs() {
  mkdir -p "$1/in/sub/deeper" "$1/out"
  echo "contents of a" >"$1/in/a.txt"
  head -c 1048577 "$WORK/seed.bin" >"$1/in/bin.dat"  # 1 MiB + 1: not a multiple of any chunk
  cp "$WORK/seed.bin" "$1/in/big.dat"                 # 3 MiB + 3: several getfile/putfile chunks
  : >"$1/in/empty"
  echo "deep file" >"$1/in/sub/deeper/deep.txt"
  echo "will be emptied" >"$1/trunc.txt"
  echo "doomed" >"$1/doomed.txt"
  for i in $(seq 1 40); do echo "small $i" >"$1/in/sub/s$i"; done
}

# prepare_pair MODE DIR: the same data set in $WORK/ref-MODE (the reference, --export) and in
# DIR (served through Chirp, owned by nobody: cctools chirp_server runs as nobody, the HTCondor
# shadow as the job's user).
prepare_pair() {
  mkdir -p "$WORK/ref-$1" "$2"
  chmod 755 "$WORK/ref-$1"
  make_inputs "$WORK/ref-$1"
  make_inputs "$2"
  chown -R nobody: "$2"
}

# The job: reads with cat, sha256sum and dd (sequential and at offsets), lists, writes with >,
# >>, dd (with a hole), mv, mkdir, rmdir, rm, cp of an empty file, an in-place change and a
# truncation.
JOB='set -e
cd "$0"
mkdir -p out
cat in/a.txt
sha256sum in/bin.dat in/big.dat in/empty > out/sums.txt
dd if=in/big.dat of=out/big.copy bs=65536 2>/dev/null
dd if=in/big.dat of=out/middle.bin bs=4096 skip=300 count=50 2>/dev/null
dd if=in/bin.dat of=out/holey.bin bs=4096 seek=600 count=3 2>/dev/null
cp in/empty out/empty.copy
ls -l in/sub | wc -l > out/count.txt
ls in/sub | sort > out/listing.txt
echo appended >> out/listing.txt
mkdir -p out/nested/deeper
echo "hello from the job" > out/nested/deeper/hello.txt
echo renamed > out/tmp.txt
mv out/tmp.txt out/moved.txt
mkdir out/gone && rmdir out/gone
printf X | dd of=in/sub/deeper/deep.txt bs=1 count=1 conv=notrunc 2>/dev/null
: > trunc.txt
rm doomed.txt
echo "to stderr" >&2
exit 3'

# tree_of DIR OUT: one line per entry (type, mode, size, name), then the sha256 of every file;
# chirp_server's ".__acl" files left out.
tree_of() {
  (cd "$1" && find . -name .__acl -prune -o -printf '%y %m %s %P\n' | LC_ALL=C sort) >"$2"
  (cd "$1" && find . -name .__acl -prune -o -type f -print0 | LC_ALL=C sort -z |
    xargs -0 -r sha256sum) >>"$2"
}

# run_backend_job MODE TAG SUBDIR FILES_ARGS...: one job on the local transport, working in
# SUBDIR of its files (. for all of them); its stdout, stderr, ringbox-host's log and its status
# in $WORK/TAG.{out,err,log,rc}.
run_backend_job() {
  local mode=$1 tag=$2 sub=$3 rc f
  shift 3
  local inputs=() prefix=$sub/
  [[ $sub == . ]] && prefix=
  if [[ $mode == eager ]]; then
    for f in in/a.txt in/bin.dat in/big.dat in/empty in/sub/deeper/deep.txt trunc.txt doomed.txt \
      $(seq -f 'in/sub/s%g' 1 40); do
      inputs+=(--input "$prefix$f")
    done
  fi
  mkdir -p "$WORK/tmp-$tag"
  chmod 755 "$WORK/tmp-$tag"
  set +e
  TMPDIR="$WORK/tmp-$tag" timeout 240 "$HOST" run --transport local --mode "$mode" "$@" \
    "${inputs[@]}" --stdout "$WORK/$tag.out" --stderr "$WORK/$tag.err" -- sh -c "$JOB" "$sub" \
    2>"$WORK/$tag.log"
  rc=$?
  set -e
  echo "$rc" >"$WORK/$tag.rc"
}

# compare_runs MODE REF_TAG REF_DIR TAG DIR: the two runs of MODE left the same status, output
# and tree.
compare_runs() {
  local mode=$1 rtag=$2 rdir=$3 tag=$4 dir=$5
  [[ $(cat "$WORK/$rtag.rc") == 3 ]] ||
    { cat "$WORK/$rtag.log"; fail "$mode: the job against the local directory exited $(cat "$WORK/$rtag.rc"), not 3"; }
  grep -q "file service on chirp" "$WORK/$tag.log" ||
    { cat "$WORK/$tag.log"; fail "$mode ($tag): the run did not serve the files through Chirp"; }
  [[ $(cat "$WORK/$tag.rc") == 3 ]] ||
    { cat "$WORK/$tag.log" "$WORK/$tag.err"; fail "$mode ($tag): the job through Chirp exited $(cat "$WORK/$tag.rc"), not 3"; }
  for s in out err; do
    cmp -s "$WORK/$rtag.$s" "$WORK/$tag.$s" ||
      { diff "$WORK/$rtag.$s" "$WORK/$tag.$s" | head; fail "$mode ($tag): the job's std$s differs"; }
  done
  tree_of "$rdir" "$WORK/$rtag.tree"
  tree_of "$dir" "$WORK/$tag.tree"
  if ! diff -u "$WORK/$rtag.tree" "$WORK/$tag.tree" >"$WORK/$tag.diff"; then
    cat "$WORK/$tag.diff"
    fail "$mode ($tag): the tree through Chirp differs from the local directory's (- local, + Chirp)"
  fi
  grep -q "^$(sha256sum <"$WORK/seed.bin" | cut -d' ' -f1)  in/big.dat" "$rdir/out/sums.txt" ||
    fail "$mode: the job's checksum of in/big.dat is wrong"
  # eager returns outputs and never deletes on the submit side (docs/modes.md).
  [[ $mode == eager || ! -e $dir/doomed.txt ]] || fail "$mode ($tag): doomed.txt was not removed"
  if find "$dir" -name '.ringbox-put*' | grep -q .; then fail "$mode ($tag): a temporary upload was left"; fi
}
