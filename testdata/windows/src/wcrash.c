/* wcrash.exe - ckdump fixture: access violation three frames below start.
     start -> run_job -> process_batch -> store_result
   store_result writes through a pointer computed from its inputs: 0xbad0b000 + 8*3 = 0xbad0b018,
   an unmapped address -> EXCEPTION_ACCESS_VIOLATION (0xC0000005), write access.
   args: selfdump -> MiniDumpWriteDump from an unhandled-exception filter (wcrash_selfdump.dmp) */
#include "w32.h"

struct batch { unsigned long long base; int count; int slot; };

NOINLINE void store_result(const struct batch *b, unsigned long long value) {
  volatile unsigned long long *out = (unsigned long long *)(ULONG_PTR)(b->base + 8u * (unsigned)b->slot);
  *out = value; /* faults here */
}

NOINLINE unsigned long long process_batch(struct batch *b) {
  unsigned long long acc = 0;
  for (int i = 0; i < b->count; i++) acc = acc * 31 + (unsigned)i;
  b->slot = b->count;
  store_result(b, acc);
  return acc;
}

NOINLINE int run_job(int count) {
  struct batch b = {0xbad0b000ull, count, 0};
  return (int)process_batch(&b) + 1;
}

void start(void) {
  say("wcrash.exe pid=");
  say_hex(GetCurrentProcessId());
  say(" tid=");
  say_hex(GetCurrentThreadId());
  say("\r\n");
  maybe_selfdump("wcrash_selfdump.dmp", MiniDumpNormal);
  int r = run_job(3);
  say("unreachable\r\n");
  ExitProcess((UINT)r);
}
