// ringbox wire contract: everything two compatible ends must agree on, in one header.
//
// This file plays the role that xen/include/public/io/ring.h and io/blkif.h play for a Xen
// block device: the shared-region layout, the message slots, the opcodes with their payloads,
// the wire error codes, the protocol versions and the xenstore handshake. Nothing else is
// needed to write a compatible agent or host. Other documents link here; they do not restate it.
//
// Trust: the guest (frontend) is hostile from its first instruction. Every field below that the
// host reads from shared memory is copied to private memory once and validated on the copy
// (see shared/ring/). The host never trusts a length, an offset, an index or a string.
//
// Byte order: little-endian, fixed-width fields, natural alignment with explicit padding. Every
// size and offset is pinned by a static_assert, so an accidental layout change fails the build.
//
// Roles: the guest agent is always the *frontend* (it allocates the region, produces requests,
// consumes responses); the host is the *backend* (it maps the region, consumes requests,
// produces responses). The host never initiates a message: events the host has for the guest
// (shutdown, vacate) are the answer to a long-poll request (kWaitEvent) the guest keeps queued.
// That keeps the host a pure server that never waits on the guest.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ringbox::proto {

// ---------------------------------------------------------------------------------------------
// Versions
// ---------------------------------------------------------------------------------------------
// Changes:
//   1: initial protocol: shared region layout, slots, session/job/file/bench opcodes.
//   2: file metadata through the whole path (issue "The job's view behaves like a local file
//      system"): kOpen/kMkdir/kPutfile take the permission bits exactly (07777 less setuid and
//      setgid; the host's umask no longer applies, the guest applies the caller's); kOpen
//      accepts kOpenTruncate without write intent (open(2) truncates O_RDONLY|O_TRUNC);
//      kRename takes RenameFlags in arg[1]; new opcodes kSetattr, kLink, kStatfs, kFallocate;
//      kSymlink stores any relative target text (components may exceed 255 bytes); kStale.
//      Version 1 is no longer served: a v1 peer's kHello gets kProto.
enum class Version : uint16_t {
  kV1 = 1,
  kV2 = 2,
};
inline constexpr uint16_t kVersionMin = 2;
inline constexpr uint16_t kVersionMax = 2;

// "RBX1" as a little-endian u32. At the start of the control page and of every stream frame.
inline constexpr uint32_t kMagic = 0x31584252u;

// ---------------------------------------------------------------------------------------------
// Shared region layout
// ---------------------------------------------------------------------------------------------
// One contiguous region of whole 4 KiB pages, shared by the frontend (memfd on the local
// transport, gntalloc pages on Xen) and mapped by the backend:
//
//   page 0                     ControlPage: magic, geometry, the four ring indexes
//   next ceil(N*64/4096) pages RequestSlot[N]     (N = 1 << ring_order)
//   next ceil(N*32/4096) pages ResponseSlot[N]
//   next data_pages pages      data area: request and response payloads
//
// Every request owns a buffer [buf_off, buf_off + buf_len) in the data area, chosen by the
// frontend, from the moment it is pushed until its response is consumed. The request payload is
// written there by the frontend; the response payload is written into the same buffer by the
// backend (never more than buf_len bytes). The data area is mapped once per connection
// ("persistent grants"): no per-request mapping, so bulk data costs one copy on each side.
//
// Geometry is chosen by the frontend and sent out of band (xenstore keys / the local
// handshake). The backend validates it against the bounds below and against the size it
// actually mapped; it never re-reads the geometry fields of the control page after setup,
// because the guest could change them under its feet.
inline constexpr size_t kPageSize = 4096;
inline constexpr uint32_t kMinRingOrder = 2;   // 4 slots
inline constexpr uint32_t kMaxRingOrder = 12;  // 4096 slots
inline constexpr uint32_t kMinDataPages = 16;  // 64 KiB
// 256 MiB. Bounds what a guest can make the host map. The default below (2 MiB) keeps the whole
// region under the default xen-gntalloc limit of 1024 pages.
inline constexpr uint32_t kMaxDataPages = 65536;
inline constexpr uint32_t kDefaultRingOrder = 8;    // 256 slots in flight
inline constexpr uint32_t kDefaultDataPages = 512;  // 2 MiB

// One message may use at most a quarter of the data area, so a single large request can never
// take all the space and leave the other requests (and their responses) unable to progress.
// (The same rule Linux's 9pfs-over-Xen transport adopted: msize = ring size / 4.)
inline constexpr uint32_t kMaxMessageDivisor = 4;
// Buffers start on 64-byte boundaries (a cache line), which also keeps every payload struct
// naturally aligned.
inline constexpr uint32_t kBufferAlign = 64;

// The control page. Each index lives on its own cache line: producer and consumer write
// different lines, so polling one does not bounce the other's line between CPUs.
//
// Notification hold-off follows xen/io/ring.h: a producer that moves *_prod from old to new
// kicks the peer only if old < *_event <= new (in wrapping u32 arithmetic). A consumer about to
// sleep sets *_event = cons + 1, issues a full barrier, and looks at *_prod once more; that final
// re-check closes the window in which a push could land between "ring is empty" and "event
// armed". While a consumer is busy its *_event stays behind the producer, so the producer does
// not kick at all.
struct ControlPage {
  uint32_t magic;       // kMagic. Written by the frontend at setup.
  uint16_t version;     // highest Version the frontend speaks. Informational.
  uint16_t reserved0;   // zero
  uint32_t ring_order;  // informational copy of the geometry; the backend never uses it
  uint32_t data_pages;  // informational copy of the geometry
  uint8_t pad0[48];
  uint32_t req_prod;  // frontend: requests [0, req_prod) are published
  uint8_t pad1[60];
  uint32_t req_event;  // backend: "kick me when req_prod reaches this"
  uint8_t pad2[60];
  uint32_t rsp_prod;  // backend: responses [0, rsp_prod) are published
  uint8_t pad3[60];
  uint32_t rsp_event;  // frontend: "kick me when rsp_prod reaches this"
  uint8_t pad4[60];
  // Liveness bytes. On Xen each side maps the page with an unmap-notify that clears its own
  // byte and kicks the event channel when its process dies, so the peer sees the death without
  // a timeout (as libxenvchan does). 1 = alive, 0 = gone.
  uint8_t frontend_live;
  uint8_t pad5[63];
  uint8_t backend_live;
  uint8_t pad6[63];
  uint8_t reserved[kPageSize - 448];
};
static_assert(sizeof(ControlPage) == kPageSize);
static_assert(offsetof(ControlPage, req_prod) == 64);
static_assert(offsetof(ControlPage, req_event) == 128);
static_assert(offsetof(ControlPage, rsp_prod) == 192);
static_assert(offsetof(ControlPage, rsp_event) == 256);
static_assert(offsetof(ControlPage, frontend_live) == 320);
static_assert(offsetof(ControlPage, backend_live) == 384);

// ---------------------------------------------------------------------------------------------
// Slots
// ---------------------------------------------------------------------------------------------
// A request slot is the message header of a request. Slot i of the request array carries
// request number i (mod N); it stays owned by the backend from the push until the frontend
// consumes the matching response (so at most N requests are in flight: back-pressure, no
// flow-control messages needed, as in ring.h).
struct RequestSlot {
  uint64_t id;         // chosen by the frontend, echoed untouched in the response
  uint16_t opcode;     // Opcode
  uint16_t flags;      // opcode-specific; zero unless an opcode says otherwise
  uint32_t reserved0;  // must be zero (checked)
  uint32_t buf_off;    // byte offset of this request's buffer in the data area
  uint32_t buf_len;    // capacity of the buffer: request payload in, response payload out
  uint32_t in_len;     // request payload bytes at buf_off; in_len <= buf_len
  uint32_t reserved1;  // must be zero (checked)
  uint64_t arg[4];     // opcode-specific arguments (see each opcode)
};
static_assert(sizeof(RequestSlot) == 64);
static_assert(offsetof(RequestSlot, buf_off) == 16);
static_assert(offsetof(RequestSlot, arg) == 32);

struct ResponseSlot {
  uint64_t id;       // the request's id
  int32_t status;    // 0 on success, else -WireError
  uint32_t out_len;  // response payload bytes written at the request's buf_off; <= buf_len
  uint64_t val[2];   // opcode-specific results
};
static_assert(sizeof(ResponseSlot) == 32);
static_assert(offsetof(ResponseSlot, val) == 16);

// ---------------------------------------------------------------------------------------------
// Stream framing (TCP transport: the network baseline)
// ---------------------------------------------------------------------------------------------
// The same slots framed over a byte stream: FrameHeader, then a RequestSlot or ResponseSlot,
// then payload_len payload bytes. For requests buf_off must be 0, buf_len is the most response
// payload the client accepts, and in_len == payload_len. For responses out_len == payload_len.
enum class FrameKind : uint8_t { kRequest = 1, kResponse = 2 };
struct FrameHeader {
  uint32_t magic;        // kMagic
  uint16_t version;      // Version of this frame
  uint8_t kind;          // FrameKind
  uint8_t reserved0;     // zero
  uint32_t payload_len;  // bytes after the slot; at most kMaxStreamPayload
  uint32_t reserved1;    // zero
};
static_assert(sizeof(FrameHeader) == 16);
inline constexpr uint32_t kMaxStreamPayload = 1u << 20;  // 1 MiB, the TCP path's largest message
// A client may open several connections to one listener (one call at a time runs on each), and
// a listener started for one agent (`ringbox-host run --transport tcp`) requires a connection
// token: exactly kStreamTokenBytes bytes sent first on every connection, before any frame. TCP
// has no peer credentials, and a loopback port is open to every local user: without the token
// any of them could read and write the job's export. The host hands the token to the agent
// out of band (the RINGBOX_CONNECT_TOKEN environment variable, never its command line).
inline constexpr size_t kStreamTokenBytes = 32;
inline constexpr char kConnectTokenEnv[] = "RINGBOX_CONNECT_TOKEN";

// ---------------------------------------------------------------------------------------------
// Opcodes
// ---------------------------------------------------------------------------------------------
// Fixed numbers; a retired number is never reused. Paths in payloads are raw bytes (no NUL,
// 1..kMaxPathBytes long, canonical: see the file opcodes) relative to the job's export root;
// the host resolves them beneath the root only. "handle" is a host-chosen opaque number naming
// an open file. Encoders and checked decoders of the file payloads: shared/protocol/codec.h.
enum class Opcode : uint16_t {
  // --- session -------------------------------------------------------------------------------
  // kHello: version negotiation; must be the first request of a connection (a ring attach or
  //   re-attach, a TCP connection): any other opcode before it, or a second kHello, is kProto.
  //   arg[0] = lowest Version the frontend speaks, arg[1] = highest, arg[2] = Feature bits it
  //   asks for. reply: val[0] = chosen version, val[1] = the Feature bits granted for this
  //   connection (asked for and offered by the host). Error kProto when the ranges do not
  //   overlap; unknown feature bits are not granted (never an error).
  kHello = 1,
  // kPing: echo. Payload: any bytes; reply payload: the same bytes. Used by ringbox-bench.
  kPing = 2,
  // kHeartbeat: the agent is alive; no payload, no reply payload.
  kHeartbeat = 3,

  // --- job control (issue "Lazy file access") ------------------------------------------------
  // One job per connection (host side host/job/, guest side guest/job/; see docs/jobs.md).
  // flags must be zero (kProto); args an opcode does not define are ignored.
  //
  // kJobGet: ask for the job. No payload. reply payload: the JobSpec records (JobTag below;
  //   bounds and rules in shared/protocol/job_spec.h), val[0] = their size in bytes. When
  //   buf_len is smaller than that: kOverflow, no payload, val[0] = the size needed. May be
  //   asked again (after a reconnect); the answer is the same bytes.
  kJobGet = 16,
  // kJobStdout / kJobStderr: a chunk of the job's output stream. Payload: the bytes (opaque,
  //   possibly empty). The host appends each chunk to the job's stdout / stderr file when it
  //   answers it, so the guest sends one chunk per stream at a time to keep the order. kFBig
  //   once the stream reached the host's limit (1 GiB by default): that chunk is dropped.
  kJobStdout = 17,
  kJobStderr = 18,
  // kJobExit: the job ended. arg[0] = ExitKind; arg[1] = exit code 0..255 (kExited) or signal
  //   number 1..127 (kSignaled); arg[2] = how many outputs the guest could not return (0 = all
  //   written back). Sent once, after the guest's write-back is complete (every kPutfile final
  //   chunk answered), so the host may treat the outputs as final when it sees it. A repeat
  //   with the same values is accepted (a replay); other values, or values out of range, kInval.
  //   payload (optional): the outputs not returned, one "path: reason" per '\n'-ended line, at
  //   most kMaxJobExitReportBytes; the host writes them, escaped, to its log (untrusted text:
  //   it names what the guest says it lost, nothing more).
  kJobExit = 19,
  // kWaitEvent: long poll. arg[0] = at most how many milliseconds to wait (0, or more than
  //   60000, means 60000). reply val[0] = Event: kShutdown (stays posted: every later poll
  //   returns it at once; the guest stops the job and returns no outputs), kVacate (delivered
  //   once), or kNone when the time ran out or the job's exit is recorded (then at once). At
  //   most 2 polls may wait at a time (each holds a host worker); another one is kAgain.
  kWaitEvent = 20,

  // --- files (paths beneath the export root) -------------------------------------------------
  // Rules shared by opcodes 32..50 (the host side is host/files/, see docs/file-service.md):
  //  * Paths are canonical, and refused (never repaired) otherwise: 1..kMaxPathBytes bytes, no
  //    NUL; either exactly "." (the export root) or components joined by single '/', no
  //    leading or trailing '/', no "." or ".." component, each component 1..255 bytes.
  //    Errors: kNameTooLong (too long), kInval (anything else not canonical). "." cannot be
  //    created, removed, renamed, replaced or linked: kInval.
  //  * Symlinks: the host never lets its kernel follow a symlink. It resolves links itself,
  //    lexically and inside the export (a target is joined to the link's directory; an absolute
  //    target, or ".." climbing above the root, is kXDev; over kMaxSymlinkHops links is kLoop), and
  //    checks its policy on the resulting symlink-free path. Symlinks in intermediate
  //    components are always resolved; one in the final component only by the opcodes marked
  //    "follows"; the others act on the final component itself.
  //  * Policy: each job has read and write rules (path prefixes); a write rule implies read.
  //    Reading (kOpen without write intent, kStat, kLstat, kReaddir, kReadlink, kGetfile) needs
  //    read access; everything that changes the tree needs write access; otherwise kAcces.
  //    kStat, kLstat and kReaddir also work on the directories leading to a readable path, and
  //    kReaddir of such a directory lists only the entries leading to readable paths.
  //  * Only regular files and directories are ever opened (kOpen, kGetfile, kTruncate); any
  //    other file type is kAcces.
  //  * flags must be zero except for kPutfile (kProto). Offsets and sizes above INT64_MAX are
  //    kInval. A fixed-size reply (WireStat, a link target, the first dirent) that does not fit
  //    buf_len is kOverflow. Values of val[] an opcode does not define are zero.
  //  * Handles are per connection and never 0; a closed, stale or forged handle is kBadF, never
  //    another file. At most 1024 open handles and 64 unfinished putfiles per connection
  //    (kMFile beyond). When the connection ends every handle is closed and every unfinished
  //    putfile discarded.
  //
  // kOpen: payload path (follows, unless kOpenCreate|kOpenExclusive; with kOpenCreate only to
  //   an existing file: a dangling final symlink is kNoEnt); arg[0] = OpenFlags;
  //   arg[1] = permission bits for a created file, applied exactly (see "Modes" below).
  //   Needs write access when any of kOpenWrite, kOpenCreate, kOpenTruncate or kOpenAppend is
  //   set. kOpenTruncate without kOpenWrite truncates too, as open(2) does for O_RDONLY|O_TRUNC.
  //   kOpenDirectory opens a directory (read-only; kNotDir otherwise) for kFstat/kFsync/kClose.
  //   Bad flag combinations (unknown bits, neither read nor write, exclusive without create,
  //   append without write, directory with any write intent) are kInval.
  //   reply: val[0] = handle; payload WireStat of the opened file when buf_len >= 64
  //   (out_len 64), else out_len 0.
  kOpen = 32,
  // kClose: arg[0] = handle.
  kClose = 33,
  // kPread: arg[0] = handle, arg[1] = offset, arg[2] = length (<= buf_len, else kInval).
  //   reply payload: the bytes read (short at end of file); val[0] = their count. kBadF for a
  //   handle not opened for reading, kIsDir for a directory handle.
  kPread = 34,
  // kPwrite: arg[0] = handle, arg[1] = offset (ignored for kOpenAppend handles: data goes to the
  //   end); payload: the bytes. reply val[0] = written (all of the payload unless an error
  //   stops it). kBadF for a handle not opened for writing.
  kPwrite = 35,
  // kFstat: arg[0] = handle. reply payload: WireStat.
  kFstat = 36,
  // kStat / kLstat: payload path (kStat follows, kLstat does not). reply payload: WireStat.
  kStat = 37,
  kLstat = 38,
  // kReaddir: payload path of a directory (follows); arg[0] = cookie: 0 = from the start, else
  //   a next_cookie from an earlier reply for the same directory. Cookies are the file system's
  //   own directory offsets: the host keeps no state between calls, and a cookie stays valid as
  //   long as the file system honours it. A meaningless cookie yields kInval or some position
  //   in the directory, nothing worse. reply payload: WireDirent records while they fit (never
  //   "." or ".."); val[0] = number of records, val[1] = 1 when the directory has no entries
  //   after the last record. kOverflow when not even the next record fits in buf_len
  //   (a buffer of kMaxDirentRecordBytes = 280 always holds one).
  kReaddir = 39,
  // kMkdir: payload path; arg[0] = permission bits, applied exactly (see "Modes").
  kMkdir = 40,
  // kRmdir / kUnlink: payload path. kUnlink of a symlink removes the link.
  kRmdir = 41,
  kUnlink = 42,
  // kRename: payload old path then new path; arg[0] = length of the old path; arg[1] =
  //   RenameFlags (0, kRenameNoReplace or kRenameExchange; anything else kInval). Both need
  //   write access; without flags replaces an existing new path exactly as rename(2) does
  //   (a non-empty directory target is kNotEmpty, a directory over a file kNotDir, ...);
  //   neither path follows. renameat2(2) gives the flags their meaning.
  kRename = 43,
  // kTruncate: payload path of a regular file (follows); arg[0] = new size.
  kTruncate = 44,
  // kFsync: arg[0] = handle.
  kFsync = 45,
  // kReadlink: payload path (does not follow). reply payload: the link target bytes. kInval if
  //   the path is not a symlink.
  kReadlink = 46,
  // kSymlink: payload target then link path; arg[0] = length of the target (1..kMaxPathBytes,
  //   no NUL). The target must be relative and, joined lexically to the link's directory, stay
  //   inside the export; otherwise kXDev, because tools on the host that later copy the export
  //   (output transfer) may follow the link.
  kSymlink = 47,
  // kGetfile: stream a whole regular file (follows). payload path; arg[0] = offset of this
  //   chunk.
  //   reply payload: up to buf_len bytes from offset (none at or past the end); val[0] = total
  //   file size. The client repeats with the next offset until it has val[0] bytes (large files
  //   stream through the data area chunk by chunk). Stateless: each chunk opens the file anew,
  //   so a val[0] that changes between chunks means the file changed: start over.
  kGetfile = 48,
  // kPutfile: stream a whole file in, replaced atomically. payload path (first arg[0] bytes)
  //   then data; arg[1] = offset of this chunk's data; arg[2] = permission bits of the new file
  //   (applied exactly, see "Modes"; read at offset 0); flags: kPutfileFinal commits.
  //   A chunk at offset 0 starts an upload of path (discarding an unfinished one of the same
  //   path on this connection); other chunks continue it (kBadF when none is in progress).
  //   Data goes to a private temporary file in the target's directory. Send the offset-0 chunk
  //   first and wait for its answer; later chunks may then be in flight together and may be
  //   answered in any order; send the final chunk only after every other one was answered. The
  //   final chunk fsyncs the file, renames it over the target (which does not follow: a symlink
  //   there is replaced) and fsyncs the directory.
  //   reply val[0] = data bytes written by this chunk; after the final chunk val[1] = file size.
  //   A putfile that never sees its final chunk leaves the target untouched. Uploads are per
  //   connection: a host replaced under the guest (a restart, a vacate's restore) answers the
  //   next chunk of an upload the old one started kBadF, and the guest sends it again from
  //   offset 0 (a replayed final chunk the old host already committed does the same, which
  //   commits the same bytes again).
  kPutfile = 49,
  // kFtruncate: arg[0] = handle opened for writing, arg[1] = new size.
  kFtruncate = 50,
  // kSetattr (v2): change a file's permission bits and/or times. payload WireSetattr, then the
  //   path (does not follow: acts on the final component; a symlink's mode is kOpNotSupp as
  //   for fchmodat(AT_SYMLINK_NOFOLLOW)) when arg[0] = 0, or nothing when arg[0] = a handle
  //   (any open handle, including one whose name is gone). Needs write access. Mode rules in
  //   "Modes"; times as utimensat(2): kSetAtimeNow/kSetMtimeNow take the host's clock, a time
  //   not named in valid is left alone (UTIME_OMIT). Unknown valid bits, a mode above 07777 or
  //   non-zero reserved bytes are kInval. reply payload: WireStat after the change when
  //   buf_len >= 64 (out_len 64), else out_len 0.
  kSetattr = 51,
  // kLink (v2): a hard link. payload existing path then new path; arg[0] = length of the
  //   existing path. Neither follows (linkat(2) without AT_SYMLINK_FOLLOW). Both need write
  //   access: a second name for a file may not open a write path to a file the job may only
  //   read. Directories are kPerm; a new path that exists is kExist.
  kLink = 52,
  // kStatfs (v2): payload path (follows; "." for the export). Needs what kStat needs: read
  //   access, or a directory on the way to a readable path (so df(1) works at the view's root
  //   under an in/out policy). reply payload: WireStatfs of the file system holding it
  //   (statvfs(2)).
  kStatfs = 53,
  // kFallocate (v2): arg[0] = handle opened for writing, arg[1] = offset, arg[2] = length
  //   (> 0), arg[3] = FallocateFlags (fallocate(2) modes: 0, kFallocKeepSize, kFallocPunchHole
  //   | kFallocKeepSize, kFallocZeroRange; anything else kInval). kOpNotSupp when the host's
  //   file system cannot (the guest then falls back as posix_fallocate(3) does, for mode 0).
  kFallocate = 54,

  // --- benchmark ------------------------------------------------------------------------------
  // Only on a connection that was granted kFeatureBulk (else kNoSys): the host offers it when
  // started for benchmarking (`ringbox-host serve --bench`), never for a job.
  // kBulkRead: the host fills arg[0] bytes (<= buf_len) of pattern seeded by arg[1].
  //   reply val[0] = FNV-1a 64 of the bytes it wrote. With flag kBulkCopyOnly the host instead
  //   copies arg[0] bytes from a private buffer (what a file read costs, without the checksum)
  //   and val[0] is 0.
  kBulkRead = 64,
  // kBulkWrite: payload: bytes; reply val[0] = FNV-1a 64 of what the host received. With flag
  //   kBulkCopyOnly the host copies the bytes into a private buffer instead (val[0] = 0).
  kBulkWrite = 65,
};

inline constexpr uint16_t kBulkCopyOnly = 1;

// kHello arg[2] / val[1]: optional parts of the protocol, asked for by the frontend and granted
// by the host per connection.
enum Feature : uint64_t {
  kFeatureBulk = 1u << 0,  // kBulkRead / kBulkWrite (benchmark hosts only)
  kKnownFeatures = (1u << 1) - 1,
};

inline constexpr uint16_t kPutfileFinal = 1;
inline constexpr uint32_t kMaxPathBytes = 4096;
inline constexpr int kMaxSymlinkHops = 40;      // links one resolution follows (as Linux)
inline constexpr uint32_t kMaxNameBytes = 255;  // one path component (Linux NAME_MAX)
inline constexpr uint32_t kMaxJobExitReportBytes = 16384;  // kJobExit payload

// Modes (v2). Permission bits sent with kOpen (create), kMkdir, kPutfile and kSetattr are the
// final bits: the guest has applied the caller's umask (as the kernel does before it asks a file
// system), and the host applies no umask of its own. The sticky bit is kept. setuid and setgid
// never reach the submit side: the host clears them and logs that it did (a job's file must not
// become a privileged program on the submit machine); the reply's WireStat shows the bits as
// stored. Owners cannot be changed over the wire: the guest presents every file as the job's.

// kRename arg[1].
enum RenameFlags : uint64_t {
  kRenameNoReplace = 1u << 0,  // RENAME_NOREPLACE: kExist when the new path exists
  kRenameExchange = 1u << 1,   // RENAME_EXCHANGE: swap the two; both must exist
};

// kFallocate arg[3].
enum FallocateFlags : uint64_t {
  kFallocKeepSize = 1u << 0,   // FALLOC_FL_KEEP_SIZE
  kFallocPunchHole = 1u << 1,  // FALLOC_FL_PUNCH_HOLE (requires kFallocKeepSize)
  kFallocZeroRange = 1u << 2,  // FALLOC_FL_ZERO_RANGE (may be combined with kFallocKeepSize)
};

// kSetattr payload head.
enum SetattrValid : uint32_t {
  kSetMode = 1u << 0,      // mode = new permission bits
  kSetAtime = 1u << 1,     // atime_ns
  kSetAtimeNow = 1u << 2,  // the host's current time (kSetAtime ignored)
  kSetMtime = 1u << 3,     // mtime_ns
  kSetMtimeNow = 1u << 4,  // the host's current time (kSetMtime ignored)
  kSetKnownBits = (1u << 5) - 1,
};
struct WireSetattr {
  uint32_t valid;    // SetattrValid bits; 0 changes nothing (the reply still carries the stat)
  uint32_t mode;     // permission bits, <= 07777
  int64_t atime_ns;  // nanoseconds since the epoch (may be negative)
  int64_t mtime_ns;
  uint64_t reserved;  // zero
};
static_assert(sizeof(WireSetattr) == 32);

// kStatfs reply.
struct WireStatfs {
  uint64_t bsize;    // f_bsize
  uint64_t frsize;   // f_frsize: the unit of the block counts
  uint64_t blocks;   // f_blocks
  uint64_t bfree;    // f_bfree
  uint64_t bavail;   // f_bavail: free blocks for the unprivileged
  uint64_t files;    // f_files
  uint64_t ffree;    // f_ffree
  uint64_t namemax;  // f_namemax
};
static_assert(sizeof(WireStatfs) == 64);

// Open flags on the wire: our own values, not the host's O_* numbers.
enum OpenFlags : uint64_t {
  kOpenRead = 1u << 0,
  kOpenWrite = 1u << 1,
  kOpenCreate = 1u << 2,
  kOpenExclusive = 1u << 3,
  kOpenTruncate = 1u << 4,
  kOpenAppend = 1u << 5,
  kOpenDirectory = 1u << 6,
  kOpenKnownFlags = (1u << 7) - 1,
};

// kJobExit arg[0]: the job called exit (arg[1] = status) or was killed (arg[1] = signal).
enum class ExitKind : uint64_t { kExited = 1, kSignaled = 2 };
enum class Event : uint64_t { kNone = 0, kShutdown = 1, kVacate = 2 };

struct WireStat {
  uint64_t ino;
  uint64_t size;
  uint64_t blocks;   // 512-byte blocks
  int64_t atime_ns;  // nanoseconds since the epoch
  int64_t mtime_ns;
  int64_t ctime_ns;
  uint32_t mode;  // POSIX type and permission bits (S_IFREG | 0644 ...)
  uint32_t nlink;
  uint32_t uid;
  uint32_t gid;
};
static_assert(sizeof(WireStat) == 64);

// A directory entry in a kReaddir reply: this header, then name_len name bytes, then zero
// padding to the next multiple of 8. The name is one component: no '/', no NUL, never "." or
// "..". Reserved and padding bytes are zero (the guest's decoder checks them).
struct WireDirent {
  uint64_t ino;
  uint64_t next_cookie;  // pass as arg[0] to continue after this entry
  uint16_t name_len;     // 1..255
  uint8_t type;          // DT_* value (DT_REG = 8, DT_DIR = 4, DT_LNK = 10, ...)
  uint8_t reserved[5];   // zero
};
static_assert(sizeof(WireDirent) == 24);

// Job spec (kJobGet reply): a sequence of records, each JobRecord then len value bytes, padded
// with zeros to a multiple of 8. Repeated tags accumulate (argv, env, inputs) in order. kMode is
// required and, like kCwd, kUid and kGid, appears at most once; kCwd defaults to "." and
// kUid/kGid to 65534 (nobody); paths are canonical wire paths; unknown tags are refused.
// Limits (1 MiB, 16384 records, ...) are in shared/protocol/job_spec.h.
enum class JobTag : uint16_t {
  kArg = 1,     // one argv element (argv[0] first)
  kEnv = 2,     // one "NAME=value"
  kCwd = 3,     // working directory inside the job's view
  kMode = 4,    // u32 JobMode
  kInput = 5,   // a declared input path (eager mode)
  kOutput = 6,  // an output path to send back at exit
  kUid = 7,     // u32
  kGid = 8,     // u32
};
struct JobRecord {
  uint16_t tag;       // JobTag
  uint16_t reserved;  // zero
  uint32_t len;       // value bytes following
};
static_assert(sizeof(JobRecord) == 8);
enum class JobMode : uint32_t { kEager = 1, kRemoteIo = 2, kLazyFile = 3, kAuto = 4, kNode = 5 };

// ---------------------------------------------------------------------------------------------
// Wire errors: negative values in ResponseSlot::status
// ---------------------------------------------------------------------------------------------
// The numbers are fixed here (they happen to equal Linux's errno values, which keeps logs easy
// to read), so the wire does not depend on the host's or the guest's libc.
enum class WireError : int32_t {
  kOk = 0,
  kPerm = 1,
  kNoEnt = 2,
  kIo = 5,
  kBadF = 9,
  kAgain = 11,
  kNoMem = 12,
  kAcces = 13,
  kExist = 17,
  kXDev = 18,
  kNotDir = 20,
  kIsDir = 21,
  kInval = 22,
  kMFile = 24,  // too many open handles or unfinished putfiles on this connection
  kFBig = 27,
  kNoSpc = 28,
  kRoFs = 30,
  kNameTooLong = 36,
  kNoSys = 38,  // unknown or unsupported opcode
  kNotEmpty = 39,
  kLoop = 40,
  kProto = 71,  // malformed request: reserved field set, bad buffer, bad payload
  kOverflow = 75,
  kOpNotSupp = 95,  // v2: the host's file system cannot do it (kFallocate, kSetattr on a link)
  kStale = 116,     // v2: the file a handle or name referred to is gone
};

// ---------------------------------------------------------------------------------------------
// Xen handshake (xenstore)
// ---------------------------------------------------------------------------------------------
// All values are canonical decimal ASCII (digits only, no sign, no spaces, no leading zeros)
// unless said otherwise. The backend treats every frontend value as hostile: it reads the keys
// once, in one transaction, parses them with the bounds below and never reads them again.
//
// Frontend directory: /local/domain/<guest domid>/data/ringbox/  (libxl makes data/ writable by
// the guest; dom0 reads everything). Keys written by the frontend:
//   protocol-version      highest Version it speaks, 1..65535; the backend needs >= kVersionMin
//   ring-order            kMinRingOrder..kMaxRingOrder
//   data-pages            kMinDataPages..kMaxDataPages
//   dir-refs              grant refs (u32 each) of the directory pages, separated by single
//                         spaces; exactly ceil(region pages * 4 / kPageSize) of them. The
//                         directory pages (granted read-only) hold a packed array of
//                         little-endian u32 grant refs, one per region page, in region order;
//                         bytes after the last ref are zero. The region refs are granted
//                         read-write; no ref may appear twice.
//   event-channel         an unbound port offered to domain 0, 1..kXenMaxEventChannelPort
//   state                 XenbusState
//   connected-generation  the backend generation the frontend has (re)initialised its ring for,
//                         1..4294967295; written together with state Connected
// The first six are written in one transaction, state Initialised last of all.
//
// Backend directory: /local/domain/0/backend/ringbox/<guest domid>/, owned by dom0, readable
// (never writable) by the guest. Keys written by the host:
//   generation            1..4294967295; one more than the value a previous backend left there
//                         (1 when absent): every attach, first or after a host restart, is a new
//                         generation
//   state                 XenbusState
//
//   frontend                                   backend
//   Initialising (1)                           InitWait (2): watching the frontend dir
//   region + directory granted, control page
//   initialised (magic, indexes), port
//   allocated, keys written
//   Initialised (3)  ------------------------> reads the keys once, checks them, maps the
//                                              directory read-only, copies the refs, unmaps it,
//                                              maps the region (one call, persistent), binds
//                                              the port, writes generation G
//                    <------------------------ Connected (4)
//   (ring fresh: nothing to reset)
//   connected-generation = G, Connected (4) --> attaches the ring, sets backend_live, serves
//   kHello is the first request.
//
// Liveness: both sides set an unmap notification on the control page (frontend: on its
// gntalloc allocation, byte frontend_live; backend: on a second mapping of the control page's
// ref, byte backend_live) with the connection's event channel, so a process that dies clears
// its byte and kicks the peer. A side that writes Closing (5) or Closed (6), or whose directory
// vanishes, is gone too.
//
// Backend restart: the frontend keeps its region, grants and port (the dead backend's binding
// closing leaves the port unbound for dom0 again). A new backend sees the frontend Initialised or
// Connected, and does exactly the steps above with generation G+1, writing InitWait first. The
// frontend, on seeing Connected with a generation other than the one it last acknowledged,
// re-initialises the ring indexes, republishes every request that has no response (their
// payloads copied afresh), then writes connected-generation = G+1. The backend attaches only
// after that acknowledgement, so it never sees the half-reset ring. Responses the old backend
// published before dying are consumed first and not replayed; a request the old backend had
// executed without publishing its response runs a second time: replay is at-least-once, so an
// opcode whose repetition would do harm must say how it guards against it.
//
// A new frontend (agent restart, or after `xl restore`: grants and ports are gone) writes fresh
// keys and Initialised, and the backend starts over.
//
// Vacate (save/restore of the guest, docs/vacate.md). Backend key:
//   vacate                a nonce, 1..32 lowercase hex digits: "get ready to be saved". Removed
//                         by the host to cancel (the save failed): the frontend reconnects in
//                         place.
//   vacate-wait-ms        written with vacate, in the same transaction: how long (ms) the host
//                         waits for vacate-ack before it destroys the guest. The frontend lets
//                         the job's file requests finish until kVacateAckMarginMs before that
//                         (a slow request need not cost the save; a budget of 2 s or less
//                         lets none finish). The host writes at most kMaxVacateWaitMs; absent,
//                         unparsable or larger: kDefaultVacateWaitMs.
// Frontend key:
//   vacate-ack            the same nonce, written once the frontend has stopped the job, let
//                         its in-flight file requests finish, kept private copies of what had
//                         no answer, ended its grants and closed its event channel. The host
//                         saves the domain only after seeing it.
//   vacate-refused        the nonce instead of vacate-ack: this guest cannot be saved now (a
//                         job task is still in a file request the budget did not see end, and
//                         the kernel cannot freeze it). Nothing was torn down; the job runs
//                         on, and the host withdraws its request without trying a save.
//   vacate-need-kib       written just before vacate-ack: the KiB of memory the guest needs
//                         (MemTotal - MemAvailable + a margin); the host may balloon it down to
//                         that, but never below its own floor, before the save
// After a restore the frontend's own keys are gone (a new domain's xenstore): it shares a fresh
// region at the same address, offers a fresh port, writes fresh keys and Initialised, and
// replays on the new backend's first generation like after a backend restart.
// The directories and key names above, as both sides spell them.
inline constexpr char kXenFrontendDirParent[] = "/local/domain/";  // + guest domid + ...
inline constexpr char kXenFrontendDirLeaf[] = "/data/ringbox";
inline constexpr char kXenBackendDirParent[] = "/local/domain/0/backend/ringbox/";  // + domid
inline constexpr char kKeyProtocolVersion[] = "protocol-version";
inline constexpr char kKeyRingOrder[] = "ring-order";
inline constexpr char kKeyDataPages[] = "data-pages";
inline constexpr char kKeyDirRefs[] = "dir-refs";
inline constexpr char kKeyEventChannel[] = "event-channel";
inline constexpr char kKeyState[] = "state";
inline constexpr char kKeyConnectedGeneration[] = "connected-generation";
inline constexpr char kKeyGeneration[] = "generation";
inline constexpr char kKeyVacate[] = "vacate";                  // backend dir
inline constexpr char kKeyVacateAck[] = "vacate-ack";           // frontend dir
inline constexpr char kKeyVacateNeedKib[] = "vacate-need-kib";  // frontend dir
inline constexpr char kKeyVacateRefused[] = "vacate-refused";   // frontend dir
inline constexpr size_t kMaxVacateNonce = 32;                   // hex digits
inline constexpr char kKeyVacateWaitMs[] = "vacate-wait-ms";    // backend dir
inline constexpr uint64_t kDefaultVacateWaitMs = 20000;
inline constexpr uint64_t kMaxVacateWaitMs = 3600000;
inline constexpr uint64_t kVacateAckMarginMs = 2000;  // the swap, the caches, the ack itself
inline constexpr uint32_t kXenMaxEventChannelPort = (1u << 17) - 1;  // the FIFO ABI's limit
// Directory pages of the largest region: 1 + 64 + 32 + kMaxDataPages region pages, 4 bytes each.
inline constexpr uint32_t kXenMaxDirPages =
    ((1 + (size_t{1} << kMaxRingOrder) * sizeof(RequestSlot) / kPageSize +
      (size_t{1} << kMaxRingOrder) * sizeof(ResponseSlot) / kPageSize + kMaxDataPages) *
         4 +
     kPageSize - 1) /
    kPageSize;
static_assert(kXenMaxDirPages == 65);

// The values of both state keys (the numbers of xen/io/xenbus.h).
enum class XenbusState : uint32_t {
  kUnknown = 0,
  kInitialising = 1,
  kInitWait = 2,
  kInitialised = 3,
  kConnected = 4,
  kClosing = 5,
  kClosed = 6,
};

}  // namespace ringbox::proto
