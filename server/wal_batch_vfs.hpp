// A SQLite VFS shim that gives the write-ahead log one write per commit.
//
// SQLite appends each WAL frame as two writes (its 24-byte header, then the
// page), so a commit of N pages costs 2N pwrite(2) calls before its fsync;
// on this project's machines a system call is expensive (a paravirtualised
// VM), and the writer spent most of its system time there (bench/RESULTS.md,
// 2026-12-04). The shim
// buffers consecutive writes to a `-wal` file and hands them to the file in
// one write.
//
// Contract, what makes it as safe as writing through:
//   * Only files SQLite opens as a WAL are wrapped; the database file, the
//     shared-memory index and every other file go straight to the base VFS.
//   * A commit's frames reach the file inside the xWrite of the commit
//     frame's page (a frame header with a non-zero "database size" field
//     marks the commit frame), so any error of that write is the error of
//     the write SQLite is doing, reported before SQLite syncs or publishes
//     the commit, whatever its synchronous setting.
//   * Frames of a transaction not yet committed (a page-cache spill) are
//     written before anything can read them: before every xRead, xSync,
//     xFileSize, xTruncate, xFileControl and xClose of the same file, and
//     when a write does not continue the buffered run or would pass
//     MaxBufferedBytes. Other connections only read frames of published
//     commits, which are on file by then.
//   * Nothing is ever acknowledged to SQLite as synced that is not in the
//     file: xSync writes the buffer first.
// A WAL file is used by one connection (the hub's writer), so the buffer
// needs no lock.
#pragma once

namespace focal::server::sqlite {

// The name of the shim over SQLite's default VFS, registered on first use
// (thread-safe, never the default VFS). Pass it to Database::open.
const char* walBatchVfs();

// Registers a shim named `name` over the VFS named `baseName` (tests stack
// it over their power-loss VFS), found by name at each open. Returns false
// if `baseName` is not registered now. Both names must outlive the process
// (string literals); the base must keep its szOsFile.
bool registerWalBatchVfs(const char* name, const char* baseName);

}  // namespace focal::server::sqlite
