# cctools' chirp command-line client against ringbox-submitd: address auth, and "chirp CONDOR"
# (cookie from ./.chirp.config, HTCondor escaping). put, get, cat, ls -l, stat, mkdir, rm, mv,
# a large (256 MiB) and an empty file; every result checked against the export directory.
source "$(dirname "$0")/lib.sh"
command -v chirp >/dev/null || skip "cctools chirp not installed (scripts/setup installs coop-computing-tools)"
mkdir -p "$WORK/root" "$WORK/local"
start_submitd "$WORK/root" --write-chirp-config "$WORK/local/.chirp.config"
R=$WORK/root
L=$WORK/local
head -c 100000 /dev/urandom >"$L/small.bin"
: >"$L/empty"
printf 'hello chirp\n' >"$L/hello.txt"

run_suite() {  # run_suite NAME CHIRP-ARGS...; paths given without a leading slash
  local name=$1; shift
  local C=(chirp -t 60 "$@")
  (cd "$L" && "${C[@]}" mkdir "$name") || fail "$name: mkdir"
  [[ -d $R/$name ]] || fail "$name: mkdir did not make $R/$name"
  (cd "$L" && "${C[@]}" put small.bin "$name/small.bin" >/dev/null) || fail "$name: put"
  cmp -s "$L/small.bin" "$R/$name/small.bin" || fail "$name: put bytes differ"
  (cd "$L" && "${C[@]}" put empty "$name/empty" >/dev/null) || fail "$name: put empty"
  [[ -f $R/$name/empty && ! -s $R/$name/empty ]] || fail "$name: empty file not stored empty"
  (cd "$L" && "${C[@]}" put hello.txt "$name/hello.txt" >/dev/null) || fail "$name: put hello"
  (cd "$L" && "${C[@]}" get "$name/small.bin" "got-$name.bin" >/dev/null) || fail "$name: get"
  cmp -s "$L/small.bin" "$L/got-$name.bin" || fail "$name: get bytes differ"
  (cd "$L" && "${C[@]}" get "$name/empty" "got-empty-$name" >/dev/null) || fail "$name: get empty"
  [[ -f $L/got-empty-$name && ! -s $L/got-empty-$name ]] || fail "$name: get of an empty file"
  [[ $(cd "$L" && "${C[@]}" cat "$name/hello.txt") == "hello chirp" ]] || fail "$name: cat"
  local ls_out
  ls_out=$(cd "$L" && "${C[@]}" ls -l "$name")
  for f in small.bin empty hello.txt; do
    grep -q " $f\$" <<<"$ls_out" || fail "$name: ls -l lacks $f: $ls_out"
  done
  grep -q " 100000 .* small.bin\$" <<<"$ls_out" || fail "$name: ls -l size of small.bin: $ls_out"
  local st_out
  st_out=$(cd "$L" && "${C[@]}" stat "$name/small.bin")
  grep -q "^size: *100000\$" <<<"$st_out" || fail "$name: stat size: $st_out"
  grep -q "^inode: *$(stat -c %i "$R/$name/small.bin")\$" <<<"$st_out" || fail "$name: stat inode"
  (cd "$L" && "${C[@]}" mv "$name/hello.txt" "$name/moved.txt") || fail "$name: mv"
  [[ ! -e $R/$name/hello.txt && $(cat "$R/$name/moved.txt") == "hello chirp" ]] || fail "$name: mv result"
  (cd "$L" && "${C[@]}" rm "$name/moved.txt") || fail "$name: rm file"
  [[ ! -e $R/$name/moved.txt ]] || fail "$name: rm left the file"
  # (cctools' chirp exits 0 after a failed cat; the message is what tells.)
  (cd "$L" && "${C[@]}" cat "$name/nope" 2>&1 || true) | grep -q "No such file or directory" ||
    fail "$name: cat of a missing file did not say ENOENT"
  (cd "$L" && "${C[@]}" rm "$name") || fail "$name: rm dir"
  [[ ! -e $R/$name ]] || fail "$name: rm left the directory"
  pass "cctools chirp $* : mkdir put get cat ls -l stat mv rm, empty file"
}

run_suite addr -a address "127.0.0.1:$SUBMITD_PORT"
run_suite condor CONDOR

# Large: 256 MiB each way with address auth.
head -c $((256 << 20)) /dev/urandom >"$L/large.bin"
(cd "$L" && chirp -t 120 -a address "127.0.0.1:$SUBMITD_PORT" put large.bin large.bin >/dev/null) || fail "put large"
cmp -s "$L/large.bin" "$R/large.bin" || fail "large put differs"
rm -f "$L/large-back.bin"
(cd "$L" && chirp -t 120 -a address "127.0.0.1:$SUBMITD_PORT" get large.bin large-back.bin >/dev/null) || fail "get large"
cmp -s "$L/large.bin" "$L/large-back.bin" || fail "large get differs"
pass "cctools chirp put/get of a 256 MiB file"

# A wrong cookie is refused and reaches nothing.
printf '127.0.0.1 %s wrongcookiewrongcookiewrongcoo\n' "$SUBMITD_PORT" >"$WORK/bad.config"
mkdir -p "$WORK/badcwd" && cp "$WORK/bad.config" "$WORK/badcwd/.chirp.config"
if (cd "$WORK/badcwd" && chirp -t 10 CONDOR mkdir intruder 2>/dev/null); then fail "wrong cookie accepted"; fi
[[ ! -e $R/intruder ]] || fail "wrong cookie created a directory"
pass "a wrong cookie is refused"
