// shim_common.hpp -- internal to the shim: the thread-local last error and the guard that
// every exported function runs its body in. Not part of the C interface.
#pragma once

#include <exception>
#include <stdexcept>
#include <string>

#include "trtq_shim.h"

extern "C" void trtq_internal_set_error(const char* msg) noexcept;

namespace trtq_common
{
// A failure the shim detected itself (a null object from TensorRT, a refused setting).
struct Failure : std::runtime_error
{
    using std::runtime_error::runtime_error;
};

inline void set_error(std::string const& what, char const* detail) noexcept
{
    try
    {
        std::string m = what;
        m += ": ";
        m += detail;
        trtq_internal_set_error(m.c_str());
    }
    catch (...)
    {
        trtq_internal_set_error("out of memory while reporting an error");
    }
}

// Runs `body`; a C++ exception of any kind becomes TRTQ_ERR plus the last-error text,
// so nothing ever unwinds into Rust.
template <class F>
int32_t guard(char const* what, F&& body) noexcept
{
    try
    {
        trtq_internal_set_error("");
        body();
        return TRTQ_OK;
    }
    catch (std::exception const& e)
    {
        set_error(what, e.what());
    }
    catch (...)
    {
        set_error(what, "unknown C++ exception");
    }
    return TRTQ_ERR;
}
} // namespace trtq_common
