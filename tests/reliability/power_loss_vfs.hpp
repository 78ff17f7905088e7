// A SQLite VFS that simulates power loss (header-only; used by
// tests/unit/durability_powerloss_test.cpp).
//
// It wraps the default VFS ("unix") and models the disk itself: for every
// file it keeps the *durable image* (the bytes that would survive a power
// cut) and the list of writes and truncations made since that file's last
// xSync. xSync moves a file's pending operations into its image; it does not
// call fsync, because the simulated disk, not the real one, is what the test
// looks at afterwards (and real fsyncs would make a sweep of hundreds of
// crash points take minutes).
//
// Crash: armed with crashAtSync(K), the K-th xSync (counted over all files
// since the shim was armed) does not happen; instead every tracked file on
// the real disk is replaced by what a power cut would leave:
//   Drop    — its durable image: everything written since its last sync is lost;
//   Garble  — its durable image with every write since the last sync applied
//             as random bytes of the same length (torn, garbage sectors);
//   Subset  — its durable image with each write since the last sync applied
//             or lost at random, independently (the disk reordered them).
// From then on every I/O call fails (SQLITE_IOERR_*, SQLITE_CANTOPEN), as a
// machine without power would; file handles can still be closed.
// crashNow() does the same at any moment (power cut after the last request).
//
// Negative controls (they must make the durability test detect loss):
//   lieAboutSync(true)      xSync reports success but makes nothing durable
//                           (a disk with a lying write cache);
//   forceSynchronousOff()   every connection opened while it is in force
//                           runs with PRAGMA synchronous=OFF, whatever the
//                           application asks for: an auto-extension sets OFF
//                           at open, and the VFS swallows later settings of
//                           "synchronous" (SQLITE_FCNTL_PRAGMA), so
//                           Database::open's synchronous=FULL has no effect;
//                           a query of it reads OFF.
//
// Limits of the model: directory entries are durable at once (creating or
// deleting a file needs no sync), the -shm file is shared memory and is not
// modelled (SQLite rebuilds it after a crash), and a write is lost or
// garbled as a whole, not sector by sector.
#pragma once

#include <sqlite3.h>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <string_view>
#include <new>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace focal::reliability {

class PowerLossVfs {
 public:
  enum class Mode { Drop, Garble, Subset };

  static constexpr const char* Name = "focal-powerloss";

  // Registers the VFS under Name (not as the default). Open databases
  // through it with uri(path), or make it the default with DefaultVfs below.
  PowerLossVfs() {
    real_ = sqlite3_vfs_find(nullptr);
    if (real_ == nullptr) throw std::runtime_error("no default SQLite VFS");
    vfs_ = *real_;
    vfs_.iVersion = 1;  // xOpen/xDelete/xAccess/xFullPathname/...; time and syscall hooks come from real_
    vfs_.szOsFile = static_cast<int>(sizeof(File)) + real_->szOsFile;
    vfs_.zName = Name;
    vfs_.pAppData = this;
    vfs_.pNext = nullptr;
    vfs_.xOpen = &xOpen;
    vfs_.xDelete = &xDelete;
    vfs_.xAccess = &xAccess;
    vfs_.xFullPathname = &xFullPathname;
    if (sqlite3_vfs_register(&vfs_, 0) != SQLITE_OK) throw std::runtime_error("cannot register the power-loss VFS");
  }
  ~PowerLossVfs() {
    if (autoExtension_) sqlite3_cancel_auto_extension(reinterpret_cast<void (*)()>(&connectionHook));
    sqlite3_vfs_unregister(&vfs_);
  }
  PowerLossVfs(const PowerLossVfs&) = delete;
  PowerLossVfs& operator=(const PowerLossVfs&) = delete;

  sqlite3_vfs* vfs() { return &vfs_; }
  sqlite3_vfs* realVfs() { return real_; }

  // "file:PATH?vfs=focal-powerloss". Needs URI filenames, which the Debian
  // build of SQLite enables for every open (SQLITE_USE_URI=1);
  // urisEnabled() says whether this build does.
  static bool urisEnabled() { return sqlite3_compileoption_used("USE_URI") != 0; }
  static std::string uri(const std::string& path) { return "file:" + path + "?vfs=" + Name; }

  // Starts a new experiment: forgets every file, resets the sync count.
  void arm(Mode mode, std::uint64_t crashAtSync, std::uint64_t seed) {
    std::lock_guard lock(mutex_);
    files_.clear();
    mode_ = mode;
    crashAt_ = crashAtSync;
    syncs_ = 0;
    databaseSyncs_ = 0;
    crashed_ = false;
    rng_.seed(seed);
  }
  void lieAboutSync(bool lie) { lie_ = lie; }
  void forceSynchronousOff(bool on) {
    forceOff_ = on;
    if (on) installAutoExtension();
  }
  // Simulates the power cut now (if it did not happen yet).
  void crashNow() {
    std::lock_guard lock(mutex_);
    crashLocked();
  }

  bool crashed() const { return crashed_; }
  std::uint64_t syncs() const { return syncs_; }  // xSync calls since arm()
  std::uint64_t databaseSyncs() const { return databaseSyncs_; }  // of those, on a main database file

 private:
  struct Op {
    bool truncate = false;
    std::int64_t offset = 0;  // write offset, or new size for a truncation
    std::vector<std::uint8_t> data;
  };
  struct FileState {
    std::vector<std::uint8_t> image;  // durable content
    std::vector<Op> pending;          // since the last sync, in order
  };
  struct File {
    sqlite3_file base;
    PowerLossVfs* shim;
    std::string path;  // empty: untracked (temporary files)
    bool wal;
    sqlite3_file* real() { return reinterpret_cast<sqlite3_file*>(this + 1); }
  };

  static PowerLossVfs* of(sqlite3_vfs* v) { return static_cast<PowerLossVfs*>(v->pAppData); }
  static File* of(sqlite3_file* f) { return reinterpret_cast<File*>(f); }

  static void apply(std::vector<std::uint8_t>& image, const Op& op) {
    if (op.truncate) {
      image.resize(static_cast<std::size_t>(op.offset));
      return;
    }
    const std::size_t end = static_cast<std::size_t>(op.offset) + op.data.size();
    if (image.size() < end) image.resize(end);
    std::memcpy(image.data() + op.offset, op.data.data(), op.data.size());
  }

  static std::vector<std::uint8_t> readWholeFile(const std::string& path) {
    std::vector<std::uint8_t> bytes;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return bytes;  // does not exist yet: durable content is empty
    std::uint8_t buf[65536];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) bytes.insert(bytes.end(), buf, buf + n);
    ::close(fd);
    return bytes;
  }

  static void writeWholeFile(const std::string& path, const std::vector<std::uint8_t>& bytes) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return;  // deleted meanwhile: nothing to leave behind
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    if (::ftruncate(fd, static_cast<off_t>(bytes.size())) != 0) {
      // leave it; the verification will find the damage
    }
    ::close(fd);
  }

  // Caller holds mutex_.
  void crashLocked() {
    if (crashed_) return;
    crashed_ = true;
    for (auto& [path, state] : files_) {
      std::vector<std::uint8_t> bytes = state.image;
      for (const auto& op : state.pending) {
        if (mode_ == Mode::Drop) break;
        if (mode_ == Mode::Subset) {
          if ((rng_() & 1) != 0) apply(bytes, op);
          continue;
        }
        if (op.truncate) {  // Garble
          apply(bytes, op);
          continue;
        }
        Op garbage{false, op.offset, std::vector<std::uint8_t>(op.data.size())};
        for (auto& b : garbage.data) b = static_cast<std::uint8_t>(rng_());
        apply(bytes, garbage);
      }
      writeWholeFile(path, bytes);
    }
  }

  FileState& stateLocked(const std::string& path) {
    auto it = files_.find(path);
    if (it == files_.end()) it = files_.emplace(path, FileState{readWholeFile(path), {}}).first;
    return it->second;
  }

  // ---- sqlite3_vfs ----

  static int xOpen(sqlite3_vfs* v, sqlite3_filename name, sqlite3_file* f, int flags, int* outFlags) {
    PowerLossVfs* self = of(v);
    File* file = of(f);
    file->base.pMethods = nullptr;
    if (self->crashed_) return SQLITE_CANTOPEN;
    new (&file->path) std::string();
    file->shim = self;
    file->wal = (flags & SQLITE_OPEN_WAL) != 0;
    const int rc = self->real_->xOpen(self->real_, name, file->real(), flags, outFlags);
    if (rc != SQLITE_OK) {
      file->path.~basic_string();
      return rc;
    }
    if (name != nullptr && (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL)) != 0) {
      file->path = name;
      std::lock_guard lock(self->mutex_);
      (void)self->stateLocked(file->path);
    }
    file->base.pMethods = &methods;
    return SQLITE_OK;
  }

  static int xDelete(sqlite3_vfs* v, const char* name, int syncDir) {
    PowerLossVfs* self = of(v);
    std::lock_guard lock(self->mutex_);
    if (self->crashed_) return SQLITE_IOERR_DELETE;
    self->files_.erase(name);
    return self->real_->xDelete(self->real_, name, syncDir);
  }

  static int xAccess(sqlite3_vfs* v, const char* name, int flags, int* out) {
    PowerLossVfs* self = of(v);
    if (self->crashed_) return SQLITE_IOERR_ACCESS;
    return self->real_->xAccess(self->real_, name, flags, out);
  }

  static int xFullPathname(sqlite3_vfs* v, const char* name, int n, char* out) {
    return of(v)->real_->xFullPathname(of(v)->real_, name, n, out);
  }

  // ---- sqlite3_io_methods ----

  static int xClose(sqlite3_file* f) {
    File* file = of(f);
    const int rc = file->real()->pMethods->xClose(file->real());
    file->path.~basic_string();
    return rc;
  }

  static int xRead(sqlite3_file* f, void* p, int n, sqlite3_int64 off) {
    File* file = of(f);
    if (file->shim->crashed_) return SQLITE_IOERR_READ;
    return file->real()->pMethods->xRead(file->real(), p, n, off);
  }

  // A write or a truncation: refused (`crashedRc`) after the cut; otherwise
  // done on the real file by `real` and, for a tracked file, kept pending
  // (`op`) until a sync makes it durable.
  template <class Real, class MakeOp>
  static int pendingChange(sqlite3_file* f, int crashedRc, Real real, MakeOp op) {
    File* file = of(f);
    PowerLossVfs* self = file->shim;
    std::lock_guard lock(self->mutex_);
    if (self->crashed_) return crashedRc;
    const int rc = real(file->real());
    if (rc == SQLITE_OK && !file->path.empty()) self->stateLocked(file->path).pending.push_back(op());
    return rc;
  }

  static int xWrite(sqlite3_file* f, const void* p, int n, sqlite3_int64 off) {
    return pendingChange(
        f, SQLITE_IOERR_WRITE, [&](sqlite3_file* real) { return real->pMethods->xWrite(real, p, n, off); },
        [&] {
          const auto* bytes = static_cast<const std::uint8_t*>(p);
          return Op{false, off, std::vector<std::uint8_t>(bytes, bytes + n)};
        });
  }

  static int xTruncate(sqlite3_file* f, sqlite3_int64 size) {
    return pendingChange(
        f, SQLITE_IOERR_TRUNCATE, [&](sqlite3_file* real) { return real->pMethods->xTruncate(real, size); },
        [&] { return Op{true, size, {}}; });
  }

  static int xSync(sqlite3_file* f, int flags) {
    File* file = of(f);
    PowerLossVfs* self = file->shim;
    std::lock_guard lock(self->mutex_);
    if (self->crashed_) return SQLITE_IOERR_FSYNC;
    ++self->syncs_;
    if (!file->path.empty() && !file->wal) ++self->databaseSyncs_;
    if (self->crashAt_ != 0 && self->syncs_ == self->crashAt_) {
      self->crashLocked();
      return SQLITE_IOERR_FSYNC;
    }
    if (file->path.empty() || self->lie_) return SQLITE_OK;
    auto& state = self->stateLocked(file->path);
    for (const auto& op : state.pending) apply(state.image, op);
    state.pending.clear();
    return SQLITE_OK;
  }

  static int xFileSize(sqlite3_file* f, sqlite3_int64* size) {
    File* file = of(f);
    if (file->shim->crashed_) return SQLITE_IOERR_FSTAT;
    return file->real()->pMethods->xFileSize(file->real(), size);
  }

  static int xLock(sqlite3_file* f, int level) {
    File* file = of(f);
    if (file->shim->crashed_) return SQLITE_IOERR_LOCK;
    return file->real()->pMethods->xLock(file->real(), level);
  }
  static int xUnlock(sqlite3_file* f, int level) { return of(f)->real()->pMethods->xUnlock(of(f)->real(), level); }
  static int xCheckReservedLock(sqlite3_file* f, int* out) {
    return of(f)->real()->pMethods->xCheckReservedLock(of(f)->real(), out);
  }

  static int xFileControl(sqlite3_file* f, int op, void* arg) {
    File* file = of(f);
    PowerLossVfs* self = file->shim;
    if (op == SQLITE_FCNTL_PRAGMA && self->forceOff_ && !inForceOff()) {
      char** a = static_cast<char**>(arg);
      // A setting is swallowed; a query is answered by SQLite (OFF).
      if (a[1] != nullptr && sqlite3_stricmp(a[1], "synchronous") == 0 && a[2] != nullptr) return SQLITE_OK;
    }
    if (op == SQLITE_FCNTL_MMAP_SIZE) {
      // No memory-mapped I/O: every read and write goes through this shim.
      *static_cast<sqlite3_int64*>(arg) = 0;
      return SQLITE_OK;
    }
    return file->real()->pMethods->xFileControl(file->real(), op, arg);
  }
  static int xSectorSize(sqlite3_file* f) { return of(f)->real()->pMethods->xSectorSize(of(f)->real()); }
  static int xDeviceCharacteristics(sqlite3_file* f) {
    return of(f)->real()->pMethods->xDeviceCharacteristics(of(f)->real());
  }
  static int xShmMap(sqlite3_file* f, int region, int size, int extend, void volatile** pp) {
    return of(f)->real()->pMethods->xShmMap(of(f)->real(), region, size, extend, pp);
  }
  static int xShmLock(sqlite3_file* f, int offset, int n, int flags) {
    return of(f)->real()->pMethods->xShmLock(of(f)->real(), offset, n, flags);
  }
  static void xShmBarrier(sqlite3_file* f) { of(f)->real()->pMethods->xShmBarrier(of(f)->real()); }
  static int xShmUnmap(sqlite3_file* f, int deleteFlag) {
    return of(f)->real()->pMethods->xShmUnmap(of(f)->real(), deleteFlag);
  }

  // iVersion 2: shared memory for WAL, no xFetch (no memory-mapped pages).
  static inline const sqlite3_io_methods methods = {
      2,           &xClose,       &xRead,   &xWrite,    &xTruncate, &xSync,       &xFileSize,
      &xLock,      &xUnlock,      &xCheckReservedLock,  &xFileControl,          &xSectorSize,
      &xDeviceCharacteristics,    &xShmMap, &xShmLock,  &xShmBarrier,           &xShmUnmap,
      nullptr,     nullptr};

  // ---- forceSynchronousOff ----

  void installAutoExtension() {
    if (autoExtension_) return;
    sqlite3_auto_extension(reinterpret_cast<void (*)()>(&connectionHook));
    autoExtension_ = true;
  }

  static bool& inForceOff() {
    static thread_local bool inside = false;
    return inside;
  }
  static int connectionHook(sqlite3* db, char**, const void*) {
    // Runs at every sqlite3_open_v2 while registered; acts only for
    // connections of this VFS, or of a shim stacked on it whose name ends
    // in "-powerloss" (focald's WAL batching shim in the power-loss test).
    sqlite3_vfs* v = nullptr;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_VFS_POINTER, &v) != SQLITE_OK || v == nullptr) return SQLITE_OK;
    const std::string_view name(v->zName);
    constexpr std::string_view Suffix = "-powerloss";
    if (name != Name && !(name.size() > Suffix.size() && name.substr(name.size() - Suffix.size()) == Suffix)) {
      return SQLITE_OK;
    }
    sqlite3_vfs* mine = sqlite3_vfs_find(Name);
    if (mine == nullptr) return SQLITE_OK;
    PowerLossVfs* self = of(mine);
    if (self->forceOff_) {
      inForceOff() = true;
      sqlite3_exec(db, "PRAGMA synchronous=OFF", nullptr, nullptr, nullptr);
      inForceOff() = false;
    }
    return SQLITE_OK;
  }

  sqlite3_vfs* real_ = nullptr;
  sqlite3_vfs vfs_{};
  std::mutex mutex_;
  std::map<std::string, FileState> files_;
  Mode mode_ = Mode::Drop;
  std::uint64_t crashAt_ = 0;
  std::atomic<std::uint64_t> syncs_{0};
  std::atomic<std::uint64_t> databaseSyncs_{0};
  std::atomic<bool> crashed_{false};
  std::atomic<bool> lie_{false};
  std::atomic<bool> forceOff_{false};
  bool autoExtension_ = false;
  std::mt19937_64 rng_;
};

// Makes a VFS the process default for a scope (for builds without URI
// filenames), restoring the previous default on every path out.
class DefaultVfs {
 public:
  DefaultVfs(sqlite3_vfs* shim, sqlite3_vfs* previous) : shim_(shim), previous_(previous) {
    sqlite3_vfs_register(shim_, 1);
  }
  ~DefaultVfs() {
    sqlite3_vfs_register(previous_, 1);
    sqlite3_vfs_register(shim_, 0);
  }
  DefaultVfs(const DefaultVfs&) = delete;
  DefaultVfs& operator=(const DefaultVfs&) = delete;

 private:
  sqlite3_vfs* shim_;
  sqlite3_vfs* previous_;
};

}  // namespace focal::reliability
