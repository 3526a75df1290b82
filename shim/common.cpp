// common.cpp -- compiled once: the thread-local last error shared by both ABI builds.
#include <string>

#include "shim_common.hpp"

namespace
{
thread_local std::string t_last_error;
}

extern "C" void trtq_internal_set_error(const char* msg) noexcept
{
    try
    {
        t_last_error = msg ? msg : "";
    }
    catch (...)
    {
        // Assigning can only fail for lack of memory; keep whatever text was there.
    }
}

extern "C" const char* trtq_last_error(void)
{
    return t_last_error.c_str();
}
