/* winline.exe - ckdump fixture: the faulting instruction lies in force-inlined code, so the PDB
   holds S_INLINESITE records and a correct symbolizer shows inline frames:
     start -> scan_table -> [inlined] checksum_row -> [inlined] load_cell   (read of 0x0...10)
   load_cell reads table->rows[row][col] where rows[2] is a NULL row pointer: a read access
   violation at address 0x10 (first_col 4 * sizeof(int)).
   args: selfdump -> MiniDumpWriteDump to winline_selfdump.dmp */
#include "w32.h"

struct table { int nrows; int first_col; int ncols; int *rows[4]; };

static int row0[6] = {1, 2, 3, 4, 5, 6};
static int row1[6] = {7, 8, 9, 10, 11, 12};
static int row3[6] = {13, 14, 15, 16, 17, 18};

static __forceinline int load_cell(const struct table *t, int row, int col) {
  const int *cells = t->rows[row];
  int v = *(volatile const int *)&cells[col]; /* faults for row 2 */
  return v + col;
}

static __forceinline int checksum_row(const struct table *t, int row) {
  int sum = 0;
  for (int col = t->first_col; col < t->ncols; col++) sum = sum * 3 + load_cell(t, row, col);
  return sum;
}

NOINLINE int scan_table(const struct table *t) {
  int total = 0;
  for (int row = 0; row < t->nrows; row++) total ^= checksum_row(t, row);
  return total;
}

void start(void) {
  say("winline.exe pid=");
  say_hex(GetCurrentProcessId());
  say(" tid=");
  say_hex(GetCurrentThreadId());
  say("\r\n");
  maybe_selfdump("winline_selfdump.dmp", MiniDumpNormal);
  static struct table t = {4, 4, 6, {row0, row1, 0, row3}};
  struct table *volatile tp = &t; /* keep the compiler from folding the scan */
  int r = scan_table(tp);
  say("unreachable\r\n");
  ExitProcess((UINT)r);
}
