# shellcheck shell=bash
# Helpers shared by the nested-Xen harness: kernel-image/build-guest-image,
# kernel-image/build-dom0-image and scripts/nested/run-scenario source this file.
#
# What it knows: where the repo and the build tree are, which Debian kernel and
# Xen packages to use, how to lay out a busybox initramfs root (merged /usr, like
# Debian 12), how to copy ELF programs with their shared libraries, kernel
# modules with their dependencies, how to pull the plain ELF kernel out of a
# bzImage, how to pack a reproducible newc cpio, and when a build is stale.
#
# Every function either succeeds or stops the script through rb_die with a
# message that names the step, the file, and what to do about it.

if [[ -n ${RB_LIB_LOADED:-} ]]; then
  return 0
fi
RB_LIB_LOADED=1

RB_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
RB_BUILD=$RB_REPO/build
RB_IMAGES=$RB_BUILD/images
RB_PROG=${RB_PROG:-$(basename "$0")}
RB_QUIET=${RB_QUIET:-0}

# ---------------------------------------------------------------- messages

rb_die() {
  printf '%s: error: %s\n' "$RB_PROG" "$*" >&2
  exit 1
}

rb_warn() {
  printf '%s: warning: %s\n' "$RB_PROG" "$*" >&2
}

rb_info() {
  [[ $RB_QUIET == 1 ]] || printf '%s: %s\n' "$RB_PROG" "$*"
}

# rb_need_cmd COMMAND DEBIAN_PACKAGE
rb_need_cmd() {
  command -v "$1" >/dev/null 2>&1 ||
    rb_die "command '$1' not found; install the Debian package: apt-get install $2"
}

# rb_need_file PATH HINT: PATH must exist; HINT says how to get it.
rb_need_file() {
  [[ -e $1 ]] || rb_die "missing $1; $2"
}

# rb_human BYTES: "12.3 MiB" style size for people; manifests keep the bytes too.
rb_human() {
  awk -v b="$1" 'BEGIN {
    if (b >= 1048576) printf "%.1f MiB", b / 1048576
    else if (b >= 1024) printf "%.1f KiB", b / 1024
    else printf "%d B", b }'
}

rb_size() {
  stat -L -c %s "$1"
}

# ---------------------------------------------------------------- inputs

# rb_kver: the Debian kernel release to use, e.g. 6.1.0-56-amd64. The newest
# /boot/vmlinuz-* that also has its modules installed, unless RINGBOX_KVER is set.
rb_kver() {
  if [[ -n ${RINGBOX_KVER:-} ]]; then
    printf '%s\n' "$RINGBOX_KVER"
    return
  fi
  local f kv best=
  for f in /boot/vmlinuz-*; do
    [[ -e $f ]] || continue
    kv=${f#/boot/vmlinuz-}
    [[ -d /lib/modules/$kv/kernel ]] || continue
    best=$(printf '%s\n%s\n' "$best" "$kv" | sed '/^$/d' | sort -V | tail -n1)
  done
  [[ -n $best ]] ||
    rb_die "no /boot/vmlinuz-* with matching /lib/modules/<version>; install linux-image-amd64"
  printf '%s\n' "$best"
}

# rb_xen_version: e.g. 4.17, from /usr/lib/xen-<v>/bin/xl (or RINGBOX_XEN_VERSION).
rb_xen_version() {
  if [[ -n ${RINGBOX_XEN_VERSION:-} ]]; then
    printf '%s\n' "$RINGBOX_XEN_VERSION"
    return
  fi
  local f v best=
  for f in /usr/lib/xen-*/bin/xl; do
    [[ -e $f ]] || continue
    v=${f#/usr/lib/xen-}
    v=${v%/bin/xl}
    best=$(printf '%s\n%s\n' "$best" "$v" | sed '/^$/d' | sort -V | tail -n1)
  done
  [[ -n $best ]] || rb_die "no /usr/lib/xen-*/bin/xl; install xen-utils-4.17"
  printf '%s\n' "$best"
}

# rb_elf_libs ELF: absolute paths of the shared libraries ELF needs (ldd), one
# per line; nothing for a static program. Dies if a library cannot be found.
rb_elf_libs() {
  local out
  if ! out=$(LC_ALL=C ldd "$1" 2>&1); then
    case $out in
      *"not a dynamic executable"* | *"statically linked"*) return 0 ;;
      *) rb_die "ldd failed on $1: $out" ;;
    esac
  fi
  case $out in
    *"statically linked"*) return 0 ;;
    *"not found"*)
      rb_die "$1 needs shared libraries that are not installed on this machine:
$(grep 'not found' <<<"$out")
install the packages that provide them, or link $1 statically" ;;
  esac
  grep -o '/[^ ]*' <<<"$out" | sort -u
}

# rb_libgcc_s: path of libgcc_s.so.1. glibc dlopen()s it for pthread_cancel and
# unwinding, so ldd never lists it, yet xl aborts (rc 134) without it.
rb_libgcc_s() {
  local p
  # No early exit in awk: ldconfig would get SIGPIPE, a failure under pipefail.
  p=$(ldconfig -p 2>/dev/null | awk '!found && /libgcc_s\.so\.1 .*x86-64/ { print $NF; found = 1 }')
  [[ -n $p && -e $p ]] || p=/lib/x86_64-linux-gnu/libgcc_s.so.1
  rb_need_file "$p" "install libgcc-s1"
  printf '%s\n' "$p"
}

# rb_inputs_digest SETTINGS PATH...: sha256 over SETTINGS (a string holding the
# options that change the output) and the name, size and mtime of every input
# (directories: every file below). A path that does not exist counts as
# "absent", so an input that appears later (the agent, once it is built)
# triggers a rebuild.
rb_inputs_digest() {
  local p
  {
    printf 'settings %s\n' "$1"
    shift
    for p in "$@"; do
      if [[ -d $p ]]; then
        find -L "$p" -type f -print0 | LC_ALL=C sort -z | xargs -0r stat -L -c '%n %s %Y'
      elif [[ -e $p ]]; then
        stat -L -c '%n %s %Y' "$p"
      else
        printf '%s absent\n' "$p"
      fi
    done
  } | sha256sum | cut -d' ' -f1
}

# rb_stamp_fresh OUTDIR DIGEST OUTPUT...: true when OUTDIR was built from the
# same inputs and every OUTPUT file still exists.
rb_stamp_fresh() {
  local dir=$1 digest=$2 f
  shift 2
  [[ -f $dir/.inputs.sha256 && $(<"$dir/.inputs.sha256") == "$digest" ]] || return 1
  for f in "$@"; do
    [[ -e $dir/$f ]] || return 1
  done
}

rb_stamp_write() {
  printf '%s\n' "$2" >"$1/.inputs.sha256"
}

# rb_lock FILE: hold an exclusive lock on FILE until the script exits, so that
# parallel runs (ctest -j) do not build the same image at the same time.
rb_lock() {
  mkdir -p "$(dirname "$1")"
  exec {RB_LOCK_FD}>"$1"
  flock -w 600 "$RB_LOCK_FD" || rb_die "waited 600 s for the lock $1; is another build stuck?"
}

# rb_scenario_names: the scenarios in tests/xen/scenarios, on one line.
rb_scenario_names() {
  local f names=()
  for f in "$RB_REPO"/tests/xen/scenarios/*.sh; do
    [[ -e $f ]] && names+=("$(basename "$f" .sh)")
  done
  printf '%s\n' "${names[*]:-none}"
}

# ---------------------------------------------------------------- kernel

# rb_extract_vmlinux BZIMAGE OUT: the plain ELF kernel inside a bzImage.
# Under QEMU TCG every decompression is slow (Xen needs ~3.5 s to unpack the
# xz payload for dom0, libxenguest ~7 s for a domU), so both are booted from
# the uncompressed ELF. The payload is located through the boot protocol
# header (setup_sects at 0x1f1, payload_offset/payload_length at 0x248), and
# the result is checked against the size the kernel build appends to it.
rb_extract_vmlinux() {
  local bz=$1 out=$2 tmp setup_sects offset length start magic want got
  rb_need_file "$bz" "install linux-image-amd64"
  [[ $(od -An -c -j 0x202 -N 4 "$bz" | tr -d ' ') == HdrS ]] ||
    rb_die "$bz is not a bzImage (no HdrS boot header)"
  setup_sects=$(od -An -t u1 -j 0x1f1 -N 1 "$bz" | tr -d ' ')
  ((setup_sects == 0)) && setup_sects=4
  read -r offset length < <(od -An -t u4 -j 0x248 -N 8 "$bz")
  start=$(((setup_sects + 1) * 512 + offset))
  tmp=$(mktemp "$out.XXXXXX")
  dd if="$bz" of="$tmp.payload" iflag=skip_bytes,count_bytes skip="$start" \
    count="$length" bs=1M status=none || rb_die "cannot read the payload of $bz"
  want=$(tail -c 4 "$tmp.payload" | od -An -t u4 | tr -d ' ')
  magic=$(od -An -t x1 -N 4 "$tmp.payload" | tr -d ' ')
  case $magic in
    fd377a58) xz -dc --single-stream "$tmp.payload" >"$tmp" ;;
    1f8b*) gzip -dc "$tmp.payload" >"$tmp" 2>/dev/null || true ;; # "trailing garbage"
    28b52ffd) zstd -qdc "$tmp.payload" >"$tmp" 2>/dev/null || true ;;
    02214c18) lz4 -qdc "$tmp.payload" >"$tmp" 2>/dev/null || true ;;
    *) rm -f "$tmp" "$tmp.payload"
       rb_die "$bz: unknown payload compression (magic $magic); add it to rb_extract_vmlinux" ;;
  esac
  rm -f "$tmp.payload"
  got=$(rb_size "$tmp")
  if [[ $(od -An -c -N 4 "$tmp" | tr -d ' ') != '177ELF' || $got != "$want" ]]; then
    rm -f "$tmp"
    rb_die "extracting the ELF kernel from $bz failed (got $got bytes, header says $want)"
  fi
  chmod 0644 "$tmp"
  mv -f "$tmp" "$out"
}

# rb_cached_vmlinux KVER: path of the ELF kernel for KVER, extracted once into
# build/images/cache and reused by both images (dom0 and domU boot the same
# Debian kernel).
rb_cached_vmlinux() {
  local kver=$1 bz=/boot/vmlinuz-$1 out=$RB_IMAGES/cache/vmlinux-$1
  mkdir -p "$RB_IMAGES/cache"
  if [[ ! -s $out || $bz -nt $out ]]; then
    rb_info "extracting ELF kernel from $bz" >&2
    rb_extract_vmlinux "$bz" "$out"
  fi
  [[ -r $out && $(stat -c %a "$out") == 644 ]] || chmod 0644 "$out"
  printf '%s\n' "$out"
}

# rb_module_file KVER NAME: the .ko file for module NAME (file names use '-').
rb_module_file() {
  local f
  f=$(find "/lib/modules/$1/kernel" \( -name "$2.ko" -o -name "$2.ko.*" \) -print -quit)
  [[ -n $f ]] || rb_die "kernel module $2 not found under /lib/modules/$1/kernel (is linux-image-$1 installed completely?)"
  printf '%s\n' "$f"
}

# rb_install_modules ROOT KVER DIR NAME...: copy modules and, first, everything
# they depend on (modinfo depends) to ROOT/DIR/<name>.ko, uncompressed, so they
# load with plain insmod / finit_module and no modules.dep. The load order
# (dependencies first) is written to ROOT/etc/ringbox/modules.
rb_install_modules() {
  local root=$1 kver=$2 dir=$3 name
  shift 3
  mkdir -p "$root$dir" "$root/etc/ringbox"
  : >"$root/etc/ringbox/modules"
  for name in "$@"; do
    _rb_install_module "$root" "$kver" "$dir" "$name"
  done
}

# rb_install_module_set ROOT KVER DIR LIST NAME...: as rb_install_modules, but
# the load order goes to ROOT/LIST instead of ROOT/etc/ringbox/modules, so a
# second set (the bench-only NIC drivers) stays apart from the modules that
# the images' /init loads at boot.
rb_install_module_set() {
  local root=$1 kver=$2 dir=$3 list=$4 stage
  shift 4
  stage=$(mktemp -d)
  rb_install_modules "$stage" "$kver" "$dir" "$@"
  mkdir -p "$root$dir" "$(dirname "$root$list")"
  cp "$stage$dir"/*.ko "$root$dir/"
  cp "$stage/etc/ringbox/modules" "$root$list"
  rm -rf "$stage"
}

_rb_install_module() {
  local root=$1 kver=$2 dir=$3 name=${4//_/-} src dep deps magic
  grep -qx "$name" "$root/etc/ringbox/modules" && return 0
  src=$(rb_module_file "$kver" "$name")
  magic=$(modinfo -F vermagic "$src" | cut -d' ' -f1)
  [[ $magic == "$kver" ]] || rb_die "module $src was built for kernel '$magic', not $kver"
  deps=$(modinfo -F depends "$src")
  for dep in ${deps//,/ }; do
    _rb_install_module "$root" "$kver" "$dir" "$dep"
  done
  case $src in
    *.ko) cp "$src" "$root$dir/$name.ko" ;;
    *.ko.xz) xz -dc "$src" >"$root$dir/$name.ko" ;;
    *.ko.zst) zstd -qdc "$src" >"$root$dir/$name.ko" ;;
    *.ko.gz) gzip -dc "$src" >"$root$dir/$name.ko" ;;
    *) rb_die "unsupported module file $src" ;;
  esac
  printf '%s\n' "$name" >>"$root/etc/ringbox/modules"
}

# rb_link_or_copy SRC DEST: DEST becomes SRC's content, as a hard link when
# both are on one file system (the kernel is 63 MiB), else as a copy.
rb_link_or_copy() {
  [[ $1 -ef $2 ]] && return 0
  ln -f "$1" "$2.tmp" 2>/dev/null || cp "$1" "$2.tmp"
  mv -f "$2.tmp" "$2"
}

# ---------------------------------------------------------------- root trees

# rb_new_root ROOT: empty initramfs root with Debian 12's merged /usr layout
# (/bin, /sbin, /lib, /lib64 are links into /usr), so library paths printed by
# ldd work whether they say /lib/... or /usr/lib/...
# /dev/console is not created here: the kernel's built-in default initramfs
# (usr/default_cpio_list) already provides it before ours is unpacked.
rb_new_root() {
  local root=$1
  rm -rf "$root"
  mkdir -p "$root"/usr/{bin,sbin,lib/x86_64-linux-gnu,lib64} \
    "$root"/{dev,proc,sys,run,tmp,etc,root,mnt}
  ln -s usr/bin "$root/bin"
  ln -s usr/sbin "$root/sbin"
  ln -s usr/lib "$root/lib"
  ln -s usr/lib64 "$root/lib64"
  chmod 1777 "$root/tmp"
  chmod 0700 "$root/root"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
    >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
}

# rb_install_busybox ROOT: static busybox in /usr/bin plus a link per applet.
rb_install_busybox() {
  local root=$1 applet
  rb_need_file /bin/busybox "install busybox-static"
  ldd /bin/busybox >/dev/null 2>&1 &&
    rb_die "/bin/busybox is dynamically linked; install busybox-static (not busybox)"
  cp /bin/busybox "$root/usr/bin/busybox"
  for applet in $(/bin/busybox --list-full); do
    applet=${applet#/}
    case $applet in
      bin/* | sbin/*) applet=usr/$applet ;;
    esac
    [[ -e $root/$applet || -L $root/$applet ]] || ln -s /usr/bin/busybox "$root/$applet"
  done
}

# rb_install_elf ROOT SRC [DEST]: copy the program SRC to ROOT/DEST (default:
# the same path), stripped of debug info, with every shared library it needs
# (at the paths ldd prints) and libgcc_s.so.1 when it is dynamic.
rb_install_elf() {
  local root=$1 src=$2 dest=${3:-$2} lib libs
  rb_need_file "$src" "build it first"
  mkdir -p "$root$(dirname "$dest")"
  strip --strip-debug -o "$root$dest" "$src" 2>/dev/null || cp -L "$src" "$root$dest"
  chmod 0755 "$root$dest"
  libs=$(rb_elf_libs "$src")
  [[ -n $libs ]] || return 0
  for lib in $libs $(rb_libgcc_s); do
    [[ -e $root$lib ]] && continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

# rb_mkcpio ROOT OUT: newc archive of ROOT, files in sorted order, owned by
# root, with reproducible inode numbers and times, written atomically.
rb_mkcpio() {
  local root=$1 out=$2
  (cd "$root" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
    cpio --null -o -H newc --quiet --reproducible -R 0:0) >"$out.tmp" ||
    rb_die "cpio failed on $root"
  mv -f "$out.tmp" "$out"
}

# rb_lz4 IN OUT: lz4 in the legacy frame format, the only one the kernel's
# initramfs unpacker accepts.
rb_lz4() {
  rb_need_cmd lz4 lz4
  lz4 -l -q -f "$1" "$2.tmp" || rb_die "lz4 failed on $1"
  mv -f "$2.tmp" "$2"
}
