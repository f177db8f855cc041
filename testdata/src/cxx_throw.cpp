/*
 * cxx_throw.cpp - ckdump test fixture (see testdata/README.md).  Single threaded C++.
 *
 * main -> ckdump_test::run_all<ckdump_test::Widget>(std::vector<Widget>&, int)   [template]
 *      -> ckdump_test::Widget::explode(int)                                        [method]
 * explode() throws a std::runtime_error that nobody catches, so __cxa_throw calls
 * std::terminate -> __gnu_cxx::__verbose_terminate_handler -> abort() -> SIGABRT, with the
 * throwing frames still on the stack (no handler was found, so nothing was unwound).
 * All frames of this program have mangled C++ names that must demangle.
 */
#include <cstdio>
#include <stdexcept>
#include <string>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

namespace ckdump_test {

class Widget {
public:
    explicit Widget(std::string name) : name_(std::move(name)) {}
    __attribute__((noinline)) int explode(int level);

private:
    std::string name_;
};

int Widget::explode(int level) {
    if (level > 0)
        throw std::runtime_error("ckdump_test: widget " + name_ + " exploded"); /* uncaught */
    return 0;
}

template <typename T>
__attribute__((noinline)) int run_all(std::vector<T> &items, int level) {
    int sum = 0;
    for (auto &item : items)
        sum += item.explode(level);
    return sum;
}

} // namespace ckdump_test

int main(int argc, char **) {
    std::vector<ckdump_test::Widget> widgets;
    widgets.emplace_back("alpha");
    std::printf("tid=%ld name=cxx_throw\npid=%d ready\n", (long)syscall(SYS_gettid), getpid());
    std::fflush(stdout);
    return ckdump_test::run_all(widgets, argc);
}
