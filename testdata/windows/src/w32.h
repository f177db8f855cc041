/* w32.h - the few Win32 declarations the ckdump Windows fixtures use (no SDK, no CRT).
   Built with clang --target=x86_64-pc-windows-msvc / i686-pc-windows-msvc, linked by lld-link
   against import libraries made from kernel32*.def / dbghelp*.def with llvm-dlltool. */
#pragma once
typedef unsigned long DWORD;
typedef int BOOL;
typedef void *HANDLE;
typedef long LONG;
typedef unsigned int UINT;
typedef __UINTPTR_TYPE__ ULONG_PTR;
typedef struct _EXCEPTION_POINTERS EXCEPTION_POINTERS;
typedef LONG(__stdcall *TOP_FILTER)(EXCEPTION_POINTERS *);
typedef DWORD(__stdcall *THREAD_START)(void *);
#define WINAPI __stdcall
#define IMP __declspec(dllimport)
#define NOINLINE __declspec(noinline)

IMP HANDLE WINAPI GetStdHandle(DWORD);
IMP BOOL WINAPI WriteFile(HANDLE, const void *, DWORD, DWORD *, void *);
IMP void WINAPI ExitProcess(UINT);
IMP HANDLE WINAPI GetCurrentProcess(void);
IMP DWORD WINAPI GetCurrentProcessId(void);
IMP DWORD WINAPI GetCurrentThreadId(void);
IMP HANDLE WINAPI CreateFileA(const char *, DWORD, DWORD, void *, DWORD, DWORD, HANDLE);
IMP BOOL WINAPI CloseHandle(HANDLE);
IMP TOP_FILTER WINAPI SetUnhandledExceptionFilter(TOP_FILTER);
IMP char *WINAPI GetCommandLineA(void);
IMP void WINAPI Sleep(DWORD);
IMP HANDLE WINAPI CreateThread(void *, ULONG_PTR, THREAD_START, void *, DWORD, DWORD *);
IMP void WINAPI RaiseException(DWORD, DWORD, DWORD, const ULONG_PTR *);
IMP HANDLE WINAPI CreateEventA(void *, BOOL, BOOL, const char *);
IMP BOOL WINAPI SetEvent(HANDLE);
IMP DWORD WINAPI WaitForSingleObject(HANDLE, DWORD);

#pragma pack(push, 4)
typedef struct {
  DWORD ThreadId;
  EXCEPTION_POINTERS *ExceptionPointers;
  BOOL ClientPointers;
} MINIDUMP_EXCEPTION_INFORMATION;
#pragma pack(pop)
IMP BOOL WINAPI MiniDumpWriteDump(HANDLE, DWORD, HANDLE, DWORD, MINIDUMP_EXCEPTION_INFORMATION *,
                                  void *, void *);

#define STD_OUTPUT_HANDLE ((DWORD)-11)
#define GENERIC_WRITE 0x40000000UL
#define CREATE_ALWAYS 2
#define FILE_ATTRIBUTE_NORMAL 0x80
#define INVALID_HANDLE_VALUE ((HANDLE)(__INTPTR_TYPE__)-1)
#define INFINITE 0xFFFFFFFFUL
/* MINIDUMP_TYPE flags */
#define MiniDumpNormal 0x0
#define MiniDumpWithDataSegs 0x1
#define MiniDumpWithHandleData 0x4
#define MiniDumpWithThreadInfo 0x1000

static DWORD str_len(const char *s) {
  DWORD n = 0;
  while (s[n]) n++;
  return n;
}
static void say(const char *s) {
  DWORD w;
  WriteFile(GetStdHandle(STD_OUTPUT_HANDLE), s, str_len(s), &w, 0);
}
static void say_hex(unsigned long long v) {
  char b[19];
  b[0] = '0';
  b[1] = 'x';
  for (int i = 0; i < 16; i++) {
    int d = (int)((v >> (60 - 4 * i)) & 0xf);
    b[2 + i] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
  }
  b[18] = 0;
  say(b);
}
/* True when the command line holds FLAG as a separate word after the program name. */
static int has_flag(const char *flag) {
  const char *c = GetCommandLineA();
  DWORD fl = str_len(flag);
  if (*c == '"') { c++; while (*c && *c != '"') c++; if (*c) c++; }
  else while (*c && *c != ' ') c++;
  for (; *c; c++) {
    if (c[-1] != ' ') continue;
    DWORD i = 0;
    while (i < fl && c[i] == flag[i]) i++;
    if (i == fl && (c[i] == 0 || c[i] == ' ')) return 1;
  }
  return 0;
}

/* "selfdump": an unhandled-exception filter writes a minidump of the own process. */
static const char *g_dump_path = "selfdump.dmp";
static DWORD g_dump_type = MiniDumpNormal;
static LONG WINAPI selfdump_filter(EXCEPTION_POINTERS *ep) {
  say("[filter] MiniDumpWriteDump -> ");
  say(g_dump_path);
  say("\r\n");
  HANDLE f = CreateFileA(g_dump_path, GENERIC_WRITE, 0, 0, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, 0);
  if (f == INVALID_HANDLE_VALUE) { say("[filter] CreateFileA failed\r\n"); return 0; }
  MINIDUMP_EXCEPTION_INFORMATION mei = {GetCurrentThreadId(), ep, 0};
  BOOL ok = MiniDumpWriteDump(GetCurrentProcess(), GetCurrentProcessId(), f, g_dump_type, &mei, 0, 0);
  CloseHandle(f);
  say(ok ? "[filter] dump written\r\n" : "[filter] MiniDumpWriteDump FAILED\r\n");
  ExitProcess(0xD0D0);
  return 1;
}
static void maybe_selfdump(const char *path, DWORD type) {
  if (has_flag("selfdump")) {
    g_dump_path = path;
    g_dump_type = type;
    SetUnhandledExceptionFilter(selfdump_filter);
  }
}
