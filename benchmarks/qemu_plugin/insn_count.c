/* tflm-mcunet instruction counter: a QEMU TCG plugin (plugin API version 1: Debian 12's QEMU 7.2).
 *
 * Counts the guest instructions executed between two marker addresses, exactly:
 *   -plugin insn_count.so,begin=ADDR,end=ADDR,out=FILE[,mode=tb|insn]
 * Every time the instruction at `end` executes after the one at `begin`, one line
 *   interval N
 * is appended to FILE (flushed at once), N being the instructions executed from the `begin`
 * instruction (included) to the `end` instruction (excluded). At exit a line "total N" gives
 * every instruction executed. ADDR is decimal or 0x-hex; the Thumb bit is ignored.
 *
 * With blocks=FILE, every translation block's start address, instruction count and number of
 * executions are also written to FILE at exit ("block ADDR N COUNT", one line per translation:
 * a block translated twice has two lines). The benchmark adds them up per function for its
 * per-layer profile (`tflm-mcunet bench --target qemu-m7 --profile`).
 *
 * mode=tb (default) adds a translation block's instruction count once when the block starts
 * (one inline add per block: fast); a marker instruction at index k of an n-instruction block
 * then knows that n - k of the counted instructions have not run yet. mode=insn adds 1 per
 * instruction (slower); both give the same intervals, which the tests check. Blocks run to
 * their end unless an exception is raised inside one; the firmware measured here raises none
 * between the markers.
 *
 * QEMU builds without a plugin header installed (Debian's), so the few API declarations used
 * are written out below, as in QEMU's include/qemu/qemu-plugin.h of API version 1.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- QEMU plugin API, version 1 (declarations) ------------------------------------------ */
#define QEMU_PLUGIN_EXPORT __attribute__((visibility("default")))

typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t; /* not read here */
struct qemu_plugin_tb;
struct qemu_plugin_insn;

enum qemu_plugin_cb_flags {
  QEMU_PLUGIN_CB_NO_REGS,
  QEMU_PLUGIN_CB_R_REGS,
  QEMU_PLUGIN_CB_RW_REGS,
};

enum qemu_plugin_op {
  QEMU_PLUGIN_INLINE_ADD_U64,
};

typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op,
                                              void *ptr, uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn,
                                                enum qemu_plugin_op op, void *ptr, uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn,
                                            qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb,
                                    void *userdata);
void qemu_plugin_outs(const char *string);

QEMU_PLUGIN_EXPORT int qemu_plugin_version = 1;
QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                           int argc, char **argv);

/* ---- the counter ------------------------------------------------------------------------ */
static uint64_t executed;       /* see mode above: instructions of the blocks entered so far */
static uint64_t begin_address = UINT64_MAX, end_address = UINT64_MAX;
static uint64_t interval_start;
static bool in_interval;
static bool per_insn;
static uint64_t intervals, unmatched_ends;
static FILE *out;

/* blocks=FILE: one counter per translated block, in a growing array */
typedef struct {
  uint64_t pc, n_insns, executions;
} block_count;
static block_count **blocks;
static size_t n_blocks, blocks_capacity;
static const char *blocks_path;

/* A marker's user data: which marker (bit 63) and how many of the counted instructions of
 * its block are still to run when it executes (the marker itself included). */
#define END_MARKER (UINT64_C(1) << 63)

static void on_marker(unsigned int vcpu_index, void *userdata) {
  const uint64_t data = (uint64_t)(uintptr_t)userdata;
  const uint64_t before = executed - (data & ~END_MARKER);
  (void)vcpu_index;
  if (!(data & END_MARKER)) {
    interval_start = before;
    in_interval = true;
  } else if (in_interval) {
    fprintf(out, "interval %" PRIu64 "\n", before - interval_start);
    fflush(out);
    in_interval = false;
    ++intervals;
  } else {
    ++unmatched_ends;
  }
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
  const size_t n = qemu_plugin_tb_n_insns(tb);
  size_t k;
  (void)id;
  if (!per_insn) qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64,
                                                          &executed, n);
  if (blocks_path && n > 0) {
    block_count *b = calloc(1, sizeof *b);
    if (b && n_blocks == blocks_capacity) {
      const size_t capacity = blocks_capacity ? 2 * blocks_capacity : 4096;
      block_count **grown = realloc(blocks, capacity * sizeof *grown);
      if (grown) {
        blocks = grown;
        blocks_capacity = capacity;
      }
    }
    if (b && n_blocks < blocks_capacity) {
      b->pc = qemu_plugin_insn_vaddr(qemu_plugin_tb_get_insn(tb, 0)) & ~UINT64_C(1);
      b->n_insns = n;
      blocks[n_blocks++] = b;
      qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &b->executions, 1);
    } else {
      free(b);
      fprintf(stderr, "insn_count: out of memory for the block counts\n");
      exit(1);
    }
  }
  for (k = 0; k < n; ++k) {
    struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, k);
    const uint64_t pc = qemu_plugin_insn_vaddr(insn) & ~UINT64_C(1);
    /* per block: counted at block entry, n - k not yet run; per instruction: the marker's own
     * add may run before or after its callback, the same way for both markers. */
    const uint64_t pending = per_insn ? 0 : (uint64_t)(n - k);
    if (per_insn) qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64,
                                                             &executed, 1);
    if (pc == begin_address || pc == end_address) {
      const uint64_t data = pending | (pc == end_address ? END_MARKER : 0);
      qemu_plugin_register_vcpu_insn_exec_cb(insn, on_marker, QEMU_PLUGIN_CB_NO_REGS,
                                             (void *)(uintptr_t)data);
    }
  }
}

static void on_qemu_exit(qemu_plugin_id_t id, void *userdata) {
  (void)id;
  (void)userdata;
  fprintf(out, "total %" PRIu64 "\nintervals %" PRIu64 "\nunmatched_ends %" PRIu64 "\n",
          executed, intervals, unmatched_ends);
  fflush(out);
  if (out != stderr) fclose(out);
  out = NULL;
  if (blocks_path) {
    FILE *f = fopen(blocks_path, "w");
    size_t i;
    if (!f) {
      fprintf(stderr, "insn_count: cannot write %s\n", blocks_path);
      return;
    }
    for (i = 0; i < n_blocks; ++i)
      if (blocks[i]->executions)
        fprintf(f, "block %#" PRIx64 " %" PRIu64 " %" PRIu64 "\n", blocks[i]->pc,
                blocks[i]->n_insns, blocks[i]->executions);
    fclose(f);
  }
}

static bool parse_address(const char *text, uint64_t *value) {
  char *end;
  unsigned long long v = strtoull(text, &end, 0);
  if (end == text || *end) return false;
  *value = (uint64_t)v & ~UINT64_C(1);
  return true;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                           int argc, char **argv) {
  const char *path = NULL;
  int i;
  (void)info;
  for (i = 0; i < argc; ++i) {
    const char *arg = argv[i];
    if (strncmp(arg, "arg=", 4) == 0) arg += 4; /* old-style -plugin ...,arg=KEY=VALUE */
    if (strncmp(arg, "begin=", 6) == 0 && parse_address(arg + 6, &begin_address)) continue;
    if (strncmp(arg, "end=", 4) == 0 && parse_address(arg + 4, &end_address)) continue;
    if (strncmp(arg, "out=", 4) == 0) {
      path = arg + 4;
      continue;
    }
    if (strncmp(arg, "blocks=", 7) == 0) {
      blocks_path = arg + 7;
      continue;
    }
    if (strcmp(arg, "mode=insn") == 0 || strcmp(arg, "mode=tb") == 0) {
      per_insn = strcmp(arg, "mode=insn") == 0;
      continue;
    }
    fprintf(stderr, "insn_count: unknown or malformed argument '%s'\n", arg);
    return -1;
  }
  if (begin_address == UINT64_MAX || end_address == UINT64_MAX) {
    fprintf(stderr, "insn_count: needs begin=ADDR and end=ADDR\n");
    return -1;
  }
  out = path ? fopen(path, "w") : stderr;
  if (!out) {
    fprintf(stderr, "insn_count: cannot write %s\n", path);
    return -1;
  }
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
  qemu_plugin_register_atexit_cb(id, on_qemu_exit, NULL);
  return 0;
}
