#include "server/wal_batch_vfs.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

namespace focal::server::sqlite {

namespace {

// Beyond this the buffered run is written out: bounds the memory of one
// commit group (a group of 512 bulletins to 10 recipients is ~2500 pages).
constexpr std::size_t MaxBufferedBytes = 1024 * 1024;
// Largest single write handed to the base VFS. SQLite's unix VFS masks a
// write's length with 0x1ffff (seekAndWriteFd), so a write of 128 KiB or
// more is cut short, and one whose remainder is a multiple of 128 KiB
// fails as SQLITE_FULL (found by this shim's first run); SQLite itself
// never writes more than a page at once.
constexpr std::size_t MaxWriteBytes = 64 * 1024;
// WAL layout (sqlite.org/fileformat.html#walformat): a 32-byte header with
// the page size at bytes 8..11, then frames of a 24-byte header (bytes 4..7:
// the database size in pages after a commit, 0 for other frames) and a page.
constexpr int WalHeaderBytes = 32;
constexpr int FrameHeaderBytes = 24;

std::uint32_t bigEndian32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
}

struct Shim {
  sqlite3_vfs vfs{};
  const char* baseName = nullptr;
};

// Found by name at each use (it is a short list), so that a base that is
// unregistered and registered again (a test's VFS) is always the current one.
sqlite3_vfs* baseOf(sqlite3_vfs* v) { return sqlite3_vfs_find(static_cast<Shim*>(v->pAppData)->baseName); }

// Our file object for a WAL; the base VFS's file object follows it in the
// same allocation (szOsFile = sizeof(WalFile) + base->szOsFile).
struct WalFile {
  sqlite3_file file;  // first: SQLite sees this
  sqlite3_file* real;
  std::vector<unsigned char> buffer;
  sqlite3_int64 bufferStart = 0;  // file offset of buffer[0]
  std::uint32_t pageSize = 0;     // 0 = not known yet
  sqlite3_int64 flushAt = -1;     // end offset of the commit frame being written, -1 = none

  int flush() {
    int rc = SQLITE_OK;
    for (std::size_t done = 0; done < buffer.size() && rc == SQLITE_OK; done += MaxWriteBytes) {
      const std::size_t n = std::min(MaxWriteBytes, buffer.size() - done);
      rc = real->pMethods->xWrite(real, buffer.data() + done, static_cast<int>(n),
                                  bufferStart + static_cast<sqlite3_int64>(done));
    }
    buffer.clear();
    return rc;
  }
};

WalFile* walOf(sqlite3_file* f) { return reinterpret_cast<WalFile*>(f); }

int walClose(sqlite3_file* f) {
  WalFile* w = walOf(f);
  const int flushed = w->flush();
  const int rc = w->real->pMethods->xClose(w->real);
  w->~WalFile();
  return flushed != SQLITE_OK ? flushed : rc;
}

int walRead(sqlite3_file* f, void* out, int amount, sqlite3_int64 offset) {
  WalFile* w = walOf(f);
  if (const int rc = w->flush(); rc != SQLITE_OK) return rc;
  return w->real->pMethods->xRead(w->real, out, amount, offset);
}

int walWrite(sqlite3_file* f, const void* data, int amount, sqlite3_int64 offset) {
  WalFile* w = walOf(f);
  const auto* bytes = static_cast<const unsigned char*>(data);
  if (offset == 0 && amount >= WalHeaderBytes) w->pageSize = bigEndian32(bytes + 8);
  const bool continues = !w->buffer.empty() && offset == w->bufferStart + static_cast<sqlite3_int64>(w->buffer.size());
  if (!w->buffer.empty() && (!continues || w->buffer.size() + static_cast<std::size_t>(amount) > MaxBufferedBytes)) {
    if (const int rc = w->flush(); rc != SQLITE_OK) return rc;
  }
  if (static_cast<std::size_t>(amount) > MaxWriteBytes) return w->real->pMethods->xWrite(w->real, data, amount, offset);
  if (w->buffer.empty()) w->bufferStart = offset;
  w->buffer.insert(w->buffer.end(), bytes, bytes + amount);
  if (amount == FrameHeaderBytes && bigEndian32(bytes + 4) != 0) {
    // A commit frame: its page is the next write. With the page size
    // unknown, write at the next write whatever it is.
    w->flushAt = w->pageSize != 0 ? offset + FrameHeaderBytes + w->pageSize : offset + FrameHeaderBytes;
    return SQLITE_OK;
  }
  if (w->flushAt >= 0 && offset + amount >= w->flushAt) {
    // The commit frame is complete (also when an xSync wrote a first part
    // of its page: flushAt outlives flush() until the frame's end).
    w->flushAt = -1;
    return w->flush();
  }
  return SQLITE_OK;
}

int walTruncate(sqlite3_file* f, sqlite3_int64 size) {
  WalFile* w = walOf(f);
  if (const int rc = w->flush(); rc != SQLITE_OK) return rc;
  return w->real->pMethods->xTruncate(w->real, size);
}

int walSync(sqlite3_file* f, int flags) {
  WalFile* w = walOf(f);
  if (const int rc = w->flush(); rc != SQLITE_OK) return rc;
  return w->real->pMethods->xSync(w->real, flags);
}

int walFileSize(sqlite3_file* f, sqlite3_int64* size) {
  WalFile* w = walOf(f);
  if (const int rc = w->flush(); rc != SQLITE_OK) return rc;
  return w->real->pMethods->xFileSize(w->real, size);
}

int walLock(sqlite3_file* f, int level) { return walOf(f)->real->pMethods->xLock(walOf(f)->real, level); }
int walUnlock(sqlite3_file* f, int level) { return walOf(f)->real->pMethods->xUnlock(walOf(f)->real, level); }
int walCheckReservedLock(sqlite3_file* f, int* out) {
  return walOf(f)->real->pMethods->xCheckReservedLock(walOf(f)->real, out);
}

int walFileControl(sqlite3_file* f, int op, void* arg) {
  WalFile* w = walOf(f);
  if (const int rc = w->flush(); rc != SQLITE_OK) return rc;
  return w->real->pMethods->xFileControl(w->real, op, arg);
}

int walSectorSize(sqlite3_file* f) { return walOf(f)->real->pMethods->xSectorSize(walOf(f)->real); }
int walDeviceCharacteristics(sqlite3_file* f) {
  return walOf(f)->real->pMethods->xDeviceCharacteristics(walOf(f)->real);
}

// A WAL has no shared memory and is never memory-mapped by SQLite; these
// only forward, for a base whose methods are of a higher version.
int walShmMap(sqlite3_file* f, int page, int size, int extend, void volatile** out) {
  return walOf(f)->real->pMethods->xShmMap(walOf(f)->real, page, size, extend, out);
}
int walShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return walOf(f)->real->pMethods->xShmLock(walOf(f)->real, offset, n, flags);
}
void walShmBarrier(sqlite3_file* f) { walOf(f)->real->pMethods->xShmBarrier(walOf(f)->real); }
int walShmUnmap(sqlite3_file* f, int deleteFlag) {
  return walOf(f)->real->pMethods->xShmUnmap(walOf(f)->real, deleteFlag);
}
int walFetch(sqlite3_file* f, sqlite3_int64 offset, int amount, void** out) {
  WalFile* w = walOf(f);
  if (const int rc = w->flush(); rc != SQLITE_OK) return rc;
  return w->real->pMethods->xFetch(w->real, offset, amount, out);
}
int walUnfetch(sqlite3_file* f, sqlite3_int64 offset, void* p) {
  return walOf(f)->real->pMethods->xUnfetch(walOf(f)->real, offset, p);
}

// One method table per version of the base's table (1, 2 or 3), so that
// SQLite never calls a method the base does not have.
sqlite3_io_methods walMethods(int version) {
  sqlite3_io_methods m{};
  m.iVersion = version;
  m.xClose = walClose;
  m.xRead = walRead;
  m.xWrite = walWrite;
  m.xTruncate = walTruncate;
  m.xSync = walSync;
  m.xFileSize = walFileSize;
  m.xLock = walLock;
  m.xUnlock = walUnlock;
  m.xCheckReservedLock = walCheckReservedLock;
  m.xFileControl = walFileControl;
  m.xSectorSize = walSectorSize;
  m.xDeviceCharacteristics = walDeviceCharacteristics;
  if (version >= 2) {
    m.xShmMap = walShmMap;
    m.xShmLock = walShmLock;
    m.xShmBarrier = walShmBarrier;
    m.xShmUnmap = walShmUnmap;
  }
  if (version >= 3) {
    m.xFetch = walFetch;
    m.xUnfetch = walUnfetch;
  }
  return m;
}

const sqlite3_io_methods WalMethods[3] = {walMethods(1), walMethods(2), walMethods(3)};

int shimOpen(sqlite3_vfs* v, sqlite3_filename name, sqlite3_file* f, int flags, int* outFlags) {
  sqlite3_vfs* base = baseOf(v);
  if (base == nullptr) return SQLITE_CANTOPEN;
  if ((flags & SQLITE_OPEN_WAL) == 0) {
    // Not a WAL: the base's own file object in our allocation (large
    // enough), with the base's methods; the shim is not in the way at all.
    return base->xOpen(base, name, f, flags, outFlags);
  }
  auto* w = new (f) WalFile{};
  w->file.pMethods = nullptr;  // until the base file is open: SQLite then skips xClose
  w->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<unsigned char*>(f) + sizeof(WalFile));
  const int rc = base->xOpen(base, name, w->real, flags, outFlags);
  if (rc != SQLITE_OK || w->real->pMethods == nullptr) {
    if (w->real->pMethods != nullptr) w->real->pMethods->xClose(w->real);
    w->~WalFile();
    f->pMethods = nullptr;
    return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
  }
  // An existing WAL (after a restart) gets appended to without a new
  // header: learn its page size from the one on file.
  sqlite3_int64 size = 0;
  unsigned char header[WalHeaderBytes];
  if (w->real->pMethods->xFileSize(w->real, &size) == SQLITE_OK && size >= WalHeaderBytes &&
      w->real->pMethods->xRead(w->real, header, WalHeaderBytes, 0) == SQLITE_OK) {
    w->pageSize = bigEndian32(header + 8);
  }
  const int version = w->real->pMethods->iVersion;
  w->file.pMethods = &WalMethods[(version < 1 ? 1 : version > 3 ? 3 : version) - 1];
  return SQLITE_OK;
}

int shimDelete(sqlite3_vfs* v, const char* name, int syncDir) { return baseOf(v)->xDelete(baseOf(v), name, syncDir); }
int shimAccess(sqlite3_vfs* v, const char* name, int flags, int* out) {
  return baseOf(v)->xAccess(baseOf(v), name, flags, out);
}
int shimFullPathname(sqlite3_vfs* v, const char* name, int n, char* out) {
  return baseOf(v)->xFullPathname(baseOf(v), name, n, out);
}
void* shimDlOpen(sqlite3_vfs* v, const char* name) { return baseOf(v)->xDlOpen(baseOf(v), name); }
void shimDlError(sqlite3_vfs* v, int n, char* out) { baseOf(v)->xDlError(baseOf(v), n, out); }
void (*shimDlSym(sqlite3_vfs* v, void* h, const char* sym))(void) { return baseOf(v)->xDlSym(baseOf(v), h, sym); }
void shimDlClose(sqlite3_vfs* v, void* h) { baseOf(v)->xDlClose(baseOf(v), h); }
int shimRandomness(sqlite3_vfs* v, int n, char* out) { return baseOf(v)->xRandomness(baseOf(v), n, out); }
int shimSleep(sqlite3_vfs* v, int us) { return baseOf(v)->xSleep(baseOf(v), us); }
int shimCurrentTime(sqlite3_vfs* v, double* out) { return baseOf(v)->xCurrentTime(baseOf(v), out); }
int shimGetLastError(sqlite3_vfs* v, int n, char* out) {
  return baseOf(v)->xGetLastError != nullptr ? baseOf(v)->xGetLastError(baseOf(v), n, out) : 0;
}
int shimCurrentTimeInt64(sqlite3_vfs* v, sqlite3_int64* out) {
  return baseOf(v)->xCurrentTimeInt64(baseOf(v), out);
}

std::mutex registryMutex;

}  // namespace

bool registerWalBatchVfs(const char* name, const char* baseName) {
  std::lock_guard lock(registryMutex);
  if (sqlite3_vfs_find(name) != nullptr) return true;
  sqlite3_vfs* base = sqlite3_vfs_find(baseName);
  if (base == nullptr) return false;
  // Lives for the process: SQLite keeps a pointer to a registered VFS.
  auto* shim = new Shim;
  shim->baseName = baseName;
  sqlite3_vfs& v = shim->vfs;
  // Version 2 at most: the xSetSystemCall family (version 3) is for tests
  // of the unix VFS itself and is not forwarded.
  v.iVersion = base->iVersion < 2 ? 1 : 2;
  v.szOsFile = static_cast<int>(sizeof(WalFile)) + base->szOsFile;
  v.mxPathname = base->mxPathname;
  v.zName = name;
  v.pAppData = shim;
  v.xOpen = shimOpen;
  v.xDelete = shimDelete;
  v.xAccess = shimAccess;
  v.xFullPathname = shimFullPathname;
  v.xDlOpen = shimDlOpen;
  v.xDlError = shimDlError;
  v.xDlSym = shimDlSym;
  v.xDlClose = shimDlClose;
  v.xRandomness = shimRandomness;
  v.xSleep = shimSleep;
  v.xCurrentTime = shimCurrentTime;
  v.xGetLastError = shimGetLastError;
  if (v.iVersion >= 2) v.xCurrentTimeInt64 = shimCurrentTimeInt64;
  if (sqlite3_vfs_register(&v, 0) != SQLITE_OK) {
    delete shim;
    return false;
  }
  return true;
}

const char* walBatchVfs() {
  static const bool registered = [] {
    sqlite3_vfs* def = sqlite3_vfs_find(nullptr);
    return def != nullptr && registerWalBatchVfs("focal-wal-batch", def->zName);
  }();
  return registered ? "focal-wal-batch" : nullptr;
}

}  // namespace focal::server::sqlite
