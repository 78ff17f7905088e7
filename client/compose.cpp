#include "client/compose.hpp"

#include "client/cli_context.hpp"
#include "crypto/secure_file.hpp"

#include <fmt/format.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

extern char** environ;

namespace focal::client::cli {

namespace {

// A body longer than this is no bulletin (the content limit is far below).
constexpr std::size_t MaxComposedBytes = 16 * 1024 * 1024;

std::string editorCommand() {
  for (const char* name : {"VISUAL", "EDITOR"}) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') return v;
  }
  return {};
}

std::filesystem::path workDirectory(const std::filesystem::path& fallbackDir) {
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  std::error_code ec;
  if (runtime != nullptr && *runtime != '\0' && std::filesystem::is_directory(runtime, ec)) return runtime;
  return fallbackDir;
}

// Removes the file when the scope ends, however it ends.
struct RemoveOnExit {
  std::string path;
  ~RemoveOnExit() {
    if (!path.empty()) ::unlink(path.c_str());
  }
};

// Lines starting with '#' go; trailing spaces, tabs and newlines too.
std::string withoutComments(const std::string& text) {
  std::string out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.front() == '#') continue;
    out += line;
    out += '\n';
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ' || out.back() == '\t' || out.back() == '\r')) {
    out.pop_back();
  }
  return out;
}

}  // namespace

std::string composeInEditor(const std::filesystem::path& fallbackDir, const std::string& aboutLines) {
  const std::string editor = editorCommand();
  if (editor.empty()) {
    throw UsageError("no-editor", "no body: set VISUAL or EDITOR to write it in your editor, or give --body TEXT, "
                                  "--body-file FILE, or pipe it on standard input");
  }
  std::string path = (workDirectory(fallbackDir) / "focal-body-XXXXXX.txt").string();
  const int fd = ::mkstemps(path.data(), 4);  // mode 0600
  if (fd < 0) throw std::runtime_error(fmt::format("cannot create {}: {}", path, std::strerror(errno)));
  RemoveOnExit remove{path};
  const std::string initial =
      "\n# Write the body of the bulletin above. Lines starting with # are left out;\n"
      "# an empty body sends nothing. The text is encrypted to the recipients.\n" +
      aboutLines;
  bool written = true;
  for (std::size_t done = 0; written && done < initial.size();) {
    const ssize_t n = ::write(fd, initial.data() + done, initial.size() - done);
    if (n < 0 && errno == EINTR) continue;
    written = n > 0;
    if (written) done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (!written) throw std::runtime_error(fmt::format("cannot write {}", path));

  // /bin/sh -c 'EDITOR "$1"' focal PATH: the editor setting may carry arguments.
  std::string shell = "/bin/sh", dashC = "-c", script = editor + " \"$1\"", name = "focal";
  char* argv[] = {shell.data(), dashC.data(), script.data(), name.data(), path.data(), nullptr};
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, "/bin/sh", nullptr, nullptr, argv, environ);
  if (rc != 0) throw std::runtime_error(fmt::format("cannot start /bin/sh: {}", std::strerror(rc)));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw UsageError("editor-failed", fmt::format("the editor ({}) did not exit cleanly: nothing was sent", editor));
  }
  const auto bytes = crypto::readFileLimited(path, MaxComposedBytes);
  std::string body = withoutComments(std::string(bytes.begin(), bytes.end()));
  if (body.empty()) throw UsageError("empty-body", "the body is empty: nothing was sent");
  return body;
}

}  // namespace focal::client::cli
