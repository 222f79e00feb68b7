# shellcheck shell=sh
# The data set and the job of the job-modes scenario (tests/xen/scenarios/job-modes.sh), kept
# apart so the scenario reads as a list of checks. Sourced by busybox sh in the harness dom0.
#
# job_make_dataset EXPORT OUTSIDE_DIR LARGE_MIB MEDIUM_MIB makes:
#   in/text/{alpha,beta,gamma,delta}.txt   pseudo-English text, about 60 KiB each
#   in/bin/blob.bin                        4 MiB of random bytes
#   in/big/medium.bin, in/big/large.bin    MEDIUM_MIB and LARGE_MIB of random bytes
#   in/many/f0000 .. f0999                 1,000 small files (40-300 bytes)
#   in/unused/untouched.bin                4 MiB no job reads (lazy-file must not fetch it)
#   in/links/abs -> OUTSIDE_DIR/outside.txt, in/links/rel -> ../../../outside.txt
#                                          symlinks planted in the export pointing outside it
#   private/secret.txt                     PRIVATE-MARKER: outside every job's --readable
#   OUTSIDE_DIR/outside.txt                OUTSIDE-MARKER: beside the export, never exported
# (OUTSIDE_DIR must be the export's parent, so the relative link climbs to it.)
# The JOB_* variables are the jobs' scripts, used by the scenario that sources this.
# shellcheck disable=SC2034

# job_random_file FILE MIB: MIB MiB from /dev/urandom.
job_random_file() {
  dd if=/dev/urandom of="$1" bs=1048576 count="$2" 2>/dev/null || fail "cannot write $2 MiB to $1"
}

job_make_dataset() {
  ex=$1 outside=$2 large_mib=$3 medium_mib=$4
  mkdir -p "$ex/in/text" "$ex/in/bin" "$ex/in/big" "$ex/in/many" "$ex/in/unused" \
    "$ex/in/links" "$ex/private" "$ex/out" || fail "cannot create the export tree in $ex"
  # One awk process writes every text and small file: a fork per file costs milliseconds
  # under TCG.
  awk -v text="$ex/in/text" -v many="$ex/in/many" 'BEGIN {
    srand(20240611)
    nw = split("the of and to in a is that for it as was with be by on not he this are " \
      "or his from at which but have an they you were her she there been one all we their " \
      "ring guest host domain grant event page file job sandbox export view cache lazy " \
      "eager remote write read kernel xen channel agent policy output input checksum", w, " ")
    split("alpha beta gamma delta", names, " ")
    for (k = 1; k <= 4; k++) {
      f = text "/" names[k] ".txt"
      for (line = 0; line < 900; line++) {
        s = ""
        for (j = 0; j < 12; j++) {
          # Zipf-like: low indexes (common words) far more often
          r = rand(); i = int(nw * r * r * r) + 1
          s = s (j ? " " : "") w[i]
        }
        print s > f
      }
      close(f)
    }
    for (i = 0; i < 1000; i++) {
      f = sprintf("%s/f%04d", many, i)
      n = 40 + int(rand() * 260)
      s = sprintf("small file %04d:", i)
      while (length(s) < n) s = s " " int(rand() * 1000000)
      print s > f
      close(f)
    }
  }' || fail "cannot generate the text and small files"
  job_random_file "$ex/in/bin/blob.bin" 4
  job_random_file "$ex/in/big/medium.bin" "$medium_mib"
  job_random_file "$ex/in/big/large.bin" "$large_mib"
  job_random_file "$ex/in/unused/untouched.bin" 4
  echo PRIVATE-MARKER >"$ex/private/secret.txt"
  echo OUTSIDE-MARKER >"$outside/outside.txt"
  ln -s "$outside/outside.txt" "$ex/in/links/abs"
  ln -s ../../../outside.txt "$ex/in/links/rel"
}

# job_expected_sums EXPORT: what the job's out/sums.txt must hold, computed by dom0 itself.
job_expected_sums() {
  (cd "$1" && sha256sum in/text/alpha.txt in/text/beta.txt in/text/delta.txt \
    in/text/gamma.txt in/bin/blob.bin in/big/medium.bin in/big/large.bin)
}

# job_expected_many EXPORT: the 1,000 small files' checksums, as the job lists them.
job_expected_many() {
  (cd "$1/in/many" && sha256sum f* | sort -k2)
}

# The main job (run in the guest as uid 65534, working directory = the export's view): reads
# the inputs, checks them, writes outputs under out/ and probes what it must not reach. Each
# probe prints "probe NAME rc=N <what cat said>"; a probe that reads a marker gives itself away.
#
# Shaped by what a round trip costs under the nested harness (QEMU TCG on a shared host: 10-20
# ms, against 50 us on the local transport): big files are read 1 MiB at a time (sha256sum
# alone reads 4 KiB, a ring call each in remote-io), the small files from inside their
# directory (remote-io looks up every path component again) and 8 at a time, and each
# checksum tool gets at most 40 files, so its output (~3 KiB) reaches the pipe in one atomic
# write and parallel lines never interleave.
# shellcheck disable=SC2016 # expanded by the job's shell, in the guest
JOB_MAIN='
set -u
mkdir -p out
echo "net: $(ls /sys/class/net | tr "\n" " ")"
echo "uid: $(id -u)"
echo "guest /run tmpfs: $(df -k /run | awk "NR == 2 { print \$2 \" KiB, \" \$4 \" KiB free\" }")"
for f in in/text/alpha.txt in/text/beta.txt in/text/delta.txt in/text/gamma.txt \
  in/bin/blob.bin in/big/medium.bin in/big/large.bin; do
  h=$(dd if="$f" bs=1048576 2>/dev/null | sha256sum) || exit 11
  echo "${h%% *}  $f"
done >out/sums.txt
cd in/many || exit 12
set -- f*
echo "many: $# files"
printf "%s\n" "$@" | xargs -P 8 -n 40 sha256sum | sort -k2 >../../out/many.sums || exit 13
cd ../..
cat in/text/*.txt | tr " " "\n" | sort | uniq -c | sort -k1,1nr -k2 | head -n 5 >out/top-words.txt
wc -w in/text/alpha.txt >out/wc.txt
cp in/bin/blob.bin out/blob.copy || exit 14
mkdir -p out/small
i=0
while [ $i -lt 20 ]; do echo "output $i" >out/small/o$i; i=$((i + 1)); done
for p in private/secret.txt in/links/abs in/links/rel ../outside.txt ../../outside.txt \
  in/../../outside.txt; do
  r=$(cat "$p" 2>&1)
  echo "probe $p rc=$? $r"
done
echo "job done"
'

# The job that dies mid-write (lazy-file): reads the large file (bigger than the cache limit the
# scenario sets, so it is read remotely), tries to open it for writing (ENOSPC: it cannot be
# cached), writes a partial output and SIGKILLs itself.
# shellcheck disable=SC2016
JOB_SELFKILL='
dd if=in/big/large.bin bs=1048576 2>/dev/null | sha256sum >out/large.sha
r=$( (echo more >>in/big/large.bin) 2>&1); echo "append-large rc=$? $r"
dd if=in/bin/blob.bin of=out/partial.bin bs=65536 count=16 2>/dev/null
echo "partial written" >out/partial.txt
echo "killing myself" >&2
kill -KILL $$
'

# The job a SIGTERM to ringbox-host run interrupts: writes an output, then waits.
# shellcheck disable=SC2016
JOB_TERM='
trap "echo got-sigterm >&2; exit 143" TERM
cp in/bin/blob.bin out/term.bin
echo "jobpid $$" >&2
while :; do sleep 0.2; done
'
