#include "marginsim/output.hpp"

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <system_error>

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

namespace marginsim {
namespace {

namespace fs = std::filesystem;

constexpr int max_link_hops = 40;  // the kernel's own limit (ELOOP)

std::string os_reason(int error) {
    return error != 0 ? std::string(std::strerror(error)) : std::string("unknown error");
}

[[noreturn]] void fail(const fs::path& path, std::string_view what, const std::string& reason) {
    throw std::runtime_error(fmt::format("cannot write '{}': {}: {}", path.string(), what, reason));
}

fs::path directory_of(const fs::path& path) {
    return path.has_parent_path() ? path.parent_path() : fs::path(".");
}

// The final target of a chain of symbolic links, or `path` when it is not a link. A relative
// link is read from the link's directory, as the kernel reads it.
fs::path follow_links(fs::path path) {
    for (int hop = 0; hop < max_link_hops; ++hop) {
        std::error_code error;
        if (!fs::is_symlink(fs::symlink_status(path, error)) || error) return path;
        const fs::path target = fs::read_symlink(path, error);
        if (error) return path;
        path = target.is_absolute() ? target : directory_of(path) / target;
    }
    throw std::runtime_error(fmt::format("cannot write '{}': {}", path.string(), os_reason(ELOOP)));
}

const char* type_name(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISSOCK(mode)) return "a socket";
    if (S_ISBLK(mode)) return "a block device";
    return "not a regular file, a character device or a FIFO";
}

// A file descriptor closed with the object; close() is checked by `close_checked`.
class Descriptor {
public:
    explicit Descriptor(int fd) : fd_(fd) {}
    ~Descriptor() {
        if (fd_ >= 0) ::close(fd_);
    }
    Descriptor(const Descriptor&) = delete;
    Descriptor& operator=(const Descriptor&) = delete;
    int get() const { return fd_; }
    int close_checked() {
        const int result = ::close(fd_);
        fd_ = -1;
        return result;
    }

private:
    int fd_;
};

// Writes everything, across short writes and signals; returns 0 or the errno of the failure.
int write_all(int fd, const std::string& content) {
    std::size_t done = 0;
    while (done < content.size()) {
        const ssize_t written = ::write(fd, content.data() + done, content.size() - done);
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) return written < 0 ? errno : EIO;
        done += static_cast<std::size_t>(written);
    }
    return 0;
}

// A new file in `dir` named ".ms.tmp-PID-N": short whatever the output's name (a 255-byte name
// still fits), hidden, and removed by this process on every failure.
fs::path create_temporary(const fs::path& dir, const fs::path& target, int& fd) {
    static std::atomic<unsigned long> counter{0};
    for (;;) {
        fs::path temp = dir / fmt::format(".ms.tmp-{}-{}", static_cast<long>(::getpid()), counter++);
        fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) return temp;
        if (errno != EEXIST) fail(target, fmt::format("cannot create a temporary file in '{}'", dir.string()), os_reason(errno));
    }
}

// A regular file or a new one: temporary + fsync + rename, the old file's permissions kept.
void replace_regular_file(const fs::path& path, const fs::path& target, const std::string& content,
                          const struct stat* existing) {
    int raw_fd = -1;
    const fs::path temp = create_temporary(directory_of(target), path, raw_fd);
    Descriptor fd(raw_fd);
    const auto fail_removing = [&](std::string_view what, int error) {
        ::unlink(temp.c_str());
        fail(path, what, os_reason(error));
    };
    if (existing != nullptr && ::fchmod(fd.get(), existing->st_mode & 07777) != 0) fail_removing("chmod failed", errno);
    if (const int error = write_all(fd.get(), content); error != 0) fail_removing("write failed", error);
    if (::fsync(fd.get()) != 0) fail_removing("fsync failed", errno);
    if (fd.close_checked() != 0) fail_removing("close failed", errno);
    if (::rename(temp.c_str(), target.c_str()) != 0) fail_removing("rename failed", errno);
}

// A character device or a FIFO: written in place, as `>` would. A FIFO is opened without
// blocking first: with no reader the open fails (ENXIO) instead of hanging forever.
void write_in_place(const fs::path& path, const fs::path& target, const std::string& content, bool fifo) {
    Descriptor fd(::open(target.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC | (fifo ? O_NONBLOCK : 0)));
    if (fd.get() < 0) {
        if (fifo && errno == ENXIO) fail(path, "a FIFO that no process is reading", "refused rather than waiting");
        fail(path, "open failed", os_reason(errno));
    }
    if (fifo) {
        const int flags = ::fcntl(fd.get(), F_GETFL);
        if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) fail(path, "fcntl failed", os_reason(errno));
    }
    if (const int error = write_all(fd.get(), content); error != 0) fail(path, "write failed", os_reason(error));
    if (fd.close_checked() != 0) fail(path, "close failed", os_reason(errno));
}

std::optional<std::string> not_writable(const fs::path& path, int mode, std::string_view what) {
    if (::access(path.c_str(), mode) == 0) return std::nullopt;
    return fmt::format("{} '{}' is not writable: {}", what, path.string(), os_reason(errno));
}

std::optional<std::string> new_file_problem(const fs::path& target) {
    const fs::path dir = directory_of(target);
    struct stat status {};
    if (::stat(dir.c_str(), &status) != 0) {
        return fmt::format("directory '{}': {}", dir.string(), os_reason(errno));
    }
    if (!S_ISDIR(status.st_mode)) return fmt::format("'{}' is not a directory", dir.string());
    const long name_max = ::pathconf(dir.c_str(), _PC_NAME_MAX);
    if (name_max > 0 && target.filename().string().size() > static_cast<std::size_t>(name_max)) {
        return fmt::format("the name is longer than {} bytes", name_max);
    }
    return not_writable(dir, W_OK | X_OK, "directory");
}

}  // namespace

void write_file_atomically(const fs::path& path, const std::string& content) {
    const fs::path target = follow_links(path);
    struct stat status {};
    if (::stat(target.c_str(), &status) != 0) {
        if (errno != ENOENT) fail(path, "stat failed", os_reason(errno));
        replace_regular_file(path, target, content, nullptr);
    } else if (S_ISREG(status.st_mode)) {
        if (::access(target.c_str(), W_OK) != 0) fail(path, "not replaced", os_reason(errno));
        replace_regular_file(path, target, content, &status);
    } else if (S_ISCHR(status.st_mode) || S_ISFIFO(status.st_mode)) {
        write_in_place(path, target, content, S_ISFIFO(status.st_mode));
    } else {
        fail(path, "refused", fmt::format("it is {}", type_name(status.st_mode)));
    }
}

std::optional<std::string> output_problem(const fs::path& path) {
    if (path.empty()) return std::string("an empty path");
    fs::path target;
    try {
        target = follow_links(path);
    } catch (const std::runtime_error&) {
        return os_reason(ELOOP);
    }
    struct stat status {};
    if (::stat(target.c_str(), &status) != 0) {
        if (errno == ENOENT) return new_file_problem(target);
        return os_reason(errno);
    }
    if (S_ISREG(status.st_mode)) {
        if (auto problem = not_writable(target, W_OK, "file")) return problem;
        return not_writable(directory_of(target), W_OK | X_OK, "directory");
    }
    if (S_ISCHR(status.st_mode) || S_ISFIFO(status.st_mode)) return not_writable(target, W_OK, "file");
    return fmt::format("it is {}", type_name(status.st_mode));
}

fs::path resolve_output_path(const fs::path& path) {
    std::error_code error;
    fs::path target = path;
    try {
        target = follow_links(path);
    } catch (const std::runtime_error&) {
    }
    const fs::path absolute = fs::absolute(target, error);
    if (error) return target.lexically_normal();
    fs::path resolved = fs::weakly_canonical(absolute, error);
    if (error) return absolute.lexically_normal();
    return resolved;
}

bool same_file(const fs::path& a, const fs::path& b) {
    std::error_code error;
    if (fs::exists(a, error) && fs::exists(b, error)) {
        const bool same = fs::equivalent(a, b, error);
        if (!error) return same;
    }
    return resolve_output_path(a) == resolve_output_path(b);
}

}  // namespace marginsim
