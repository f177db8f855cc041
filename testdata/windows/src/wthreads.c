/* wthreads.exe - ckdump fixture: several threads, and the exception is raised on a WORKER thread.
   The main thread starts 3 "sleeper" workers that block in WaitForSingleObject under a recursive
   park() (depth 2*id + 1), then one "raiser" thread that calls
     raiser_main -> validate -> fail_with
   and RaiseException(0xE0C0FFEE, EXCEPTION_NONCONTINUABLE, 4 params {0xC0DE, 0xF00D, id, 0x1234567890ABCDEF}).
   The main thread waits for the raiser in WaitForSingleObject.
   args: selfdump -> MiniDumpWriteDump (DataSegs|HandleData|ThreadInfo) to wthreads_selfdump.dmp */
#include "w32.h"

#define EXC_CKDUMP 0xE0C0FFEEUL
#define EXCEPTION_NONCONTINUABLE 0x1

static HANDLE g_never;
static volatile LONG g_parked;

NOINLINE DWORD park(int depth, DWORD id) {
  volatile char frame_pad[48];
  frame_pad[0] = (char)depth;
  if (depth > 0) return park(depth - 1, id) + (DWORD)frame_pad[0];
  __atomic_add_fetch(&g_parked, 1, __ATOMIC_SEQ_CST);
  return WaitForSingleObject(g_never, INFINITE);
}

DWORD WINAPI sleeper_main(void *arg) {
  DWORD id = (DWORD)(ULONG_PTR)arg;
  return park((int)id * 2 + 1, id);
}

NOINLINE void fail_with(DWORD id, unsigned long long tag) {
  ULONG_PTR params[4] = {0xC0DE, 0xF00D, id, (ULONG_PTR)tag};
  RaiseException(EXC_CKDUMP, EXCEPTION_NONCONTINUABLE, 4, params);
}

NOINLINE int validate(DWORD id, int value) {
  if (value != 42) fail_with(id, 0x1234567890ABCDEFull);
  return value;
}

DWORD WINAPI raiser_main(void *arg) {
  DWORD id = (DWORD)(ULONG_PTR)arg;
  return (DWORD)validate(id, (int)id);
}

void start(void) {
  say("wthreads.exe pid=");
  say_hex(GetCurrentProcessId());
  say(" main tid=");
  say_hex(GetCurrentThreadId());
  say("\r\n");
  g_never = CreateEventA(0, 1, 0, 0);
  maybe_selfdump("wthreads_selfdump.dmp",
                 MiniDumpWithDataSegs | MiniDumpWithHandleData | MiniDumpWithThreadInfo);
  DWORD tid;
  for (ULONG_PTR i = 1; i <= 3; i++) {
    CreateThread(0, 0, sleeper_main, (void *)i, 0, &tid);
    say("  sleeper tid=");
    say_hex(tid);
    say("\r\n");
  }
  while (g_parked < 3) Sleep(10);
  Sleep(100);
  HANDLE raiser = CreateThread(0, 0, raiser_main, (void *)4, 0, &tid);
  say("  raiser tid=");
  say_hex(tid);
  say("\r\n");
  WaitForSingleObject(raiser, INFINITE);
  say("unreachable\r\n");
  ExitProcess(1);
}
