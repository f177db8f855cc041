//! Windows exception codes (NTSTATUS values as they appear in exception
//! records) and the fast-fail codes of STATUS_STACK_BUFFER_OVERRUN.
//! Numbers from ntstatus.h / winnt.h.

/// Name and meaning of an exception code.
pub fn exception_name(code: u32) -> Option<(&'static str, &'static str)> {
    Some(match code {
        0x4000_001F => ("STATUS_WX86_BREAKPOINT", "WOW64 breakpoint"),
        0x4001_0005 => ("DBG_CONTROL_C", "Ctrl+C sent to a console process"),
        0x406D_1388 => (
            "MS_VC_EXCEPTION",
            "thread-naming exception raised by SetThreadName",
        ),
        0x8000_0001 => ("STATUS_GUARD_PAGE_VIOLATION", "guard page touched"),
        0x8000_0002 => ("EXCEPTION_DATATYPE_MISALIGNMENT", "misaligned data access"),
        0x8000_0003 => (
            "EXCEPTION_BREAKPOINT",
            "breakpoint (int 3, DebugBreak, __debugbreak)",
        ),
        0x8000_0004 => (
            "EXCEPTION_SINGLE_STEP",
            "single-step or hardware breakpoint trap",
        ),
        0xC000_0005 => ("EXCEPTION_ACCESS_VIOLATION", "access violation"),
        0xC000_0006 => (
            "EXCEPTION_IN_PAGE_ERROR",
            "a page could not be read in (I/O error on a mapped file or the page file)",
        ),
        0xC000_0008 => ("STATUS_INVALID_HANDLE", "invalid handle"),
        0xC000_000D => (
            "STATUS_INVALID_PARAMETER",
            "invalid parameter (a CRT function's parameter check failed)",
        ),
        0xC000_0017 => ("STATUS_NO_MEMORY", "out of memory"),
        0xC000_001D => ("EXCEPTION_ILLEGAL_INSTRUCTION", "illegal instruction"),
        0xC000_0025 => (
            "EXCEPTION_NONCONTINUABLE_EXCEPTION",
            "execution continued after a noncontinuable exception",
        ),
        0xC000_0026 => (
            "EXCEPTION_INVALID_DISPOSITION",
            "an exception handler returned an invalid disposition",
        ),
        0xC000_008C => ("EXCEPTION_ARRAY_BOUNDS_EXCEEDED", "array bounds exceeded"),
        0xC000_008D => (
            "EXCEPTION_FLT_DENORMAL_OPERAND",
            "floating-point denormal operand",
        ),
        0xC000_008E => (
            "EXCEPTION_FLT_DIVIDE_BY_ZERO",
            "floating-point divide by zero",
        ),
        0xC000_008F => (
            "EXCEPTION_FLT_INEXACT_RESULT",
            "floating-point inexact result",
        ),
        0xC000_0090 => (
            "EXCEPTION_FLT_INVALID_OPERATION",
            "floating-point invalid operation",
        ),
        0xC000_0091 => ("EXCEPTION_FLT_OVERFLOW", "floating-point overflow"),
        0xC000_0092 => (
            "EXCEPTION_FLT_STACK_CHECK",
            "floating-point stack over- or underflow",
        ),
        0xC000_0093 => ("EXCEPTION_FLT_UNDERFLOW", "floating-point underflow"),
        0xC000_0094 => ("EXCEPTION_INT_DIVIDE_BY_ZERO", "integer divide by zero"),
        0xC000_0095 => ("EXCEPTION_INT_OVERFLOW", "integer overflow"),
        0xC000_0096 => ("EXCEPTION_PRIV_INSTRUCTION", "privileged instruction"),
        0xC000_00FD => ("EXCEPTION_STACK_OVERFLOW", "stack overflow"),
        0xC000_0135 => ("STATUS_DLL_NOT_FOUND", "a required DLL was not found"),
        0xC000_0142 => (
            "STATUS_DLL_INIT_FAILED",
            "a DLL's initialization routine failed",
        ),
        0xC000_0194 => (
            "STATUS_POSSIBLE_DEADLOCK",
            "possible deadlock (critical section wait timed out)",
        ),
        0xC000_0374 => (
            "STATUS_HEAP_CORRUPTION",
            "heap corruption detected by the heap manager",
        ),
        0xC000_0409 => (
            "STATUS_STACK_BUFFER_OVERRUN",
            "fast fail: the process terminated itself (stack cookie, CFG, or __fastfail)",
        ),
        0xC000_0417 => (
            "STATUS_INVALID_CRUNTIME_PARAMETER",
            "invalid parameter passed to a C runtime function",
        ),
        0xC000_041D => (
            "STATUS_FATAL_USER_CALLBACK_EXCEPTION",
            "unhandled exception in a kernel-to-user callback",
        ),
        0xC000_0420 => ("STATUS_ASSERTION_FAILURE", "assertion failure"),
        0xC000_0602 => ("STATUS_FAIL_FAST_EXCEPTION", "fail-fast exception"),
        0xE043_4352 => ("CLR_EXCEPTION", ".NET (CLR) exception"),
        0xE06D_7363 => ("CPP_EH_EXCEPTION", "C++ exception thrown with throw (MSVC)"),
        _ => return None,
    })
}

/// Name and meaning of a Mach exception type (macOS / iOS minidumps), and
/// Crashpad's simulated exception for dumps taken without a crash.
pub fn mach_exception_name(code: u32) -> Option<(&'static str, &'static str)> {
    Some(match code {
        1 => ("EXC_BAD_ACCESS", "bad memory access"),
        2 => ("EXC_BAD_INSTRUCTION", "illegal or undefined instruction"),
        3 => ("EXC_ARITHMETIC", "arithmetic exception"),
        4 => ("EXC_EMULATION", "emulation instruction"),
        5 => ("EXC_SOFTWARE", "software-generated exception"),
        6 => ("EXC_BREAKPOINT", "trace or breakpoint"),
        7 => ("EXC_SYSCALL", "system call"),
        8 => ("EXC_MACH_SYSCALL", "Mach system call"),
        9 => ("EXC_RPC_ALERT", "RPC alert"),
        10 => ("EXC_CRASH", "abnormal process exit (often abort())"),
        11 => ("EXC_RESOURCE", "resource limit exceeded"),
        12 => ("EXC_GUARD", "guarded resource violation"),
        13 => ("EXC_CORPSE_NOTIFY", "corpse notification"),
        0x4350_7378 => (
            "kMachExceptionSimulated",
            "dump requested by Crashpad without a crash",
        ),
        _ => return None,
    })
}

/// Name of a FAST_FAIL_* code (parameter 0 of STATUS_STACK_BUFFER_OVERRUN).
pub fn fast_fail_name(code: u64) -> Option<&'static str> {
    const NAMES: &[&str] = &[
        "FAST_FAIL_LEGACY_GS_VIOLATION",
        "FAST_FAIL_VTGUARD_CHECK_FAILURE",
        "FAST_FAIL_STACK_COOKIE_CHECK_FAILURE",
        "FAST_FAIL_CORRUPT_LIST_ENTRY",
        "FAST_FAIL_INCORRECT_STACK",
        "FAST_FAIL_INVALID_ARG",
        "FAST_FAIL_GS_COOKIE_INIT",
        "FAST_FAIL_FATAL_APP_EXIT",
        "FAST_FAIL_RANGE_CHECK_FAILURE",
        "FAST_FAIL_UNSAFE_REGISTRY_ACCESS",
        "FAST_FAIL_GUARD_ICALL_CHECK_FAILURE",
        "FAST_FAIL_GUARD_WRITE_CHECK_FAILURE",
        "FAST_FAIL_INVALID_FIBER_SWITCH",
        "FAST_FAIL_INVALID_SET_OF_CONTEXT",
        "FAST_FAIL_INVALID_REFERENCE_COUNT",
        "",
        "",
        "",
        "FAST_FAIL_INVALID_JUMP_BUFFER",
        "FAST_FAIL_MRDATA_MODIFIED",
        "FAST_FAIL_CERTIFICATION_FAILURE",
        "FAST_FAIL_INVALID_EXCEPTION_CHAIN",
        "FAST_FAIL_CRYPTO_LIBRARY",
        "FAST_FAIL_INVALID_CALL_IN_DLL_CALLOUT",
        "FAST_FAIL_INVALID_IMAGE_BASE",
        "FAST_FAIL_DLOAD_PROTECTION_FAILURE",
        "FAST_FAIL_UNSAFE_EXTENSION_CALL",
        "FAST_FAIL_DEPRECATED_SERVICE_INVOKED",
        "FAST_FAIL_INVALID_BUFFER_ACCESS",
        "FAST_FAIL_INVALID_BALANCED_TREE",
        "FAST_FAIL_INVALID_NEXT_THREAD",
        "FAST_FAIL_GUARD_ICALL_CHECK_SUPPRESSED",
        "FAST_FAIL_APCS_DISABLED",
        "FAST_FAIL_INVALID_IDLE_STATE",
        "FAST_FAIL_MRDATA_PROTECTION_FAILURE",
        "FAST_FAIL_UNEXPECTED_HEAP_EXCEPTION",
        "FAST_FAIL_INVALID_LOCK_STATE",
        "FAST_FAIL_GUARD_JUMPTABLE",
        "FAST_FAIL_INVALID_LONGJUMP_TARGET",
        "FAST_FAIL_INVALID_DISPATCH_CONTEXT",
        "FAST_FAIL_INVALID_THREAD",
        "FAST_FAIL_INVALID_SYSCALL_NUMBER",
        "FAST_FAIL_INVALID_FILE_OPERATION",
        "FAST_FAIL_LPAC_ACCESS_DENIED",
        "FAST_FAIL_GUARD_SS_FAILURE",
        "FAST_FAIL_LOADER_CONTINUITY_FAILURE",
        "FAST_FAIL_GUARD_EXPORT_SUPPRESSION_FAILURE",
        "FAST_FAIL_INVALID_CONTROL_STACK",
        "FAST_FAIL_SET_CONTEXT_DENIED",
        "FAST_FAIL_INVALID_IAT",
        "FAST_FAIL_HEAP_METADATA_CORRUPTION",
    ];
    NAMES
        .get(usize::try_from(code).ok()?)
        .copied()
        .filter(|n| !n.is_empty())
}

/// Access kind of an access violation / in-page error from parameter 0.
pub fn access_kind(parameter0: u64) -> Option<&'static str> {
    match parameter0 {
        0 => Some("read"),
        1 => Some("write"),
        8 => Some("execute"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            exception_name(0xC000_0005).unwrap().0,
            "EXCEPTION_ACCESS_VIOLATION"
        );
        assert_eq!(exception_name(0xE06D_7363).unwrap().0, "CPP_EH_EXCEPTION");
        assert!(exception_name(0xDEAD_0006).is_none());
        assert_eq!(fast_fail_name(7), Some("FAST_FAIL_FATAL_APP_EXIT"));
        assert_eq!(
            fast_fail_name(2),
            Some("FAST_FAIL_STACK_COOKIE_CHECK_FAILURE")
        );
        assert_eq!(fast_fail_name(15), None);
        assert_eq!(access_kind(8), Some("execute"));
    }
}
