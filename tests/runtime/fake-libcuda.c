/*
 * A stand-in for libcuda.so.1 with the driver entry points runtime/cuda-driver.ts binds, so
 * the FFI marshalling (out-pointers, 64-bit device pointers, the void** of kernel
 * arguments) is tested on machines without a GPU. "Device" memory is host memory;
 * modules and functions are names; a launch runs nothing but is recorded, and
 * fake_launch() lets a test read the record back.
 *
 * Built by tests/runtime/cuda-fake.test.ts: cc -shared -fPIC -o libcuda-fake.so fake-libcuda.c
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
enum { OK = 0, INVALID_VALUE = 1, NOT_INITIALIZED = 3, INVALID_IMAGE = 200, NOT_FOUND = 500, NOT_READY = 600, LAUNCH_FAILED = 719 };

static int initialized = 0;
static int live_allocs = 0;
static long launches = 0;
static unsigned last_grid[3], last_block[3];
static uint64_t last_args[64];
static int expect_args = 0;
static int fail_next = 0;

typedef struct { char names[4096]; } Module;
typedef struct { char name[256]; int nargs; } Function;
typedef struct { long at; } Event;

CUresult cuInit(unsigned flags) { initialized = flags == 0; return flags == 0 ? OK : INVALID_VALUE; }
CUresult cuDriverGetVersion(int *v) { *v = 13000; return OK; }
CUresult cuGetErrorName(CUresult e, const char **s) {
  *s = e == INVALID_IMAGE ? "CUDA_ERROR_INVALID_IMAGE" : e == NOT_FOUND ? "CUDA_ERROR_NOT_FOUND"
     : e == LAUNCH_FAILED ? "CUDA_ERROR_LAUNCH_FAILED" : "CUDA_ERROR_UNKNOWN";
  return OK;
}
CUresult cuGetErrorString(CUresult e, const char **s) { *s = e == NOT_FOUND ? "named symbol not found" : "fake driver error"; return OK; }
CUresult cuDeviceGetCount(int *n) { *n = initialized; return initialized ? OK : NOT_INITIALIZED; }
CUresult cuDeviceGet(int *d, int ordinal) { *d = ordinal; return ordinal == 0 ? OK : INVALID_VALUE; }
CUresult cuDeviceGetName(char *name, int len, int d) { strncpy(name, "Fake GPU", len); return OK; }
CUresult cuDeviceGetAttribute(int *v, int attr, int d) {
  switch (attr) {
    case 1: *v = 1024; break;                    /* max threads per block */
    case 2: case 3: *v = 1024; break;            /* max block x, y */
    case 4: *v = 64; break;
    case 5: *v = 2147483647; break;              /* max grid x */
    case 6: case 7: *v = 65535; break;
    case 8: *v = 49152; break;                   /* shared memory per block */
    case 16: *v = 132; break;                    /* SMs */
    case 75: *v = 9; break;                      /* compute capability 9.0 */
    case 76: *v = 0; break;
    default: *v = 0;
  }
  return OK;
}
CUresult cuDeviceTotalMem_v2(size_t *b, int d) { *b = (size_t)80 << 30; return OK; }
CUresult cuDevicePrimaryCtxRetain(void **ctx, int d) { static int c; *ctx = &c; return OK; }
CUresult cuCtxSetCurrent(void *ctx) { return ctx ? OK : INVALID_VALUE; }
CUresult cuCtxSynchronize(void) { return OK; }

CUresult cuMemAlloc_v2(uint64_t *p, size_t bytes) {
  void *m = calloc(1, bytes);
  if (!m) return 2;
  live_allocs++;
  *p = (uint64_t)(uintptr_t)m;
  return OK;
}
CUresult cuMemFree_v2(uint64_t p) { free((void *)(uintptr_t)p); live_allocs--; return OK; }
CUresult cuMemcpyHtoD_v2(uint64_t dst, const void *src, size_t n) { memcpy((void *)(uintptr_t)dst, src, n); return OK; }
CUresult cuMemcpyDtoH_v2(void *dst, uint64_t src, size_t n) { memcpy(dst, (void *)(uintptr_t)src, n); return OK; }
CUresult cuMemcpyDtoD_v2(uint64_t dst, uint64_t src, size_t n) { memmove((void *)(uintptr_t)dst, (void *)(uintptr_t)src, n); return OK; }
CUresult cuMemGetInfo_v2(size_t *f, size_t *t) { *f = (size_t)79 << 30; *t = (size_t)80 << 30; return OK; }

/* A module "image" is accepted when it mentions .entry (PTX) or starts with the ELF or fatbin magic. */
CUresult cuModuleLoadData(Module **m, const void *image) {
  const unsigned char *b = image;
  int elf = b[0] == 0x7f && b[1] == 'E', fatbin = b[0] == 0x50 && b[1] == 0xed;
  if (!elf && !fatbin && !strstr((const char *)image, ".entry")) return INVALID_IMAGE;
  *m = calloc(1, sizeof(Module));
  return OK;
}
CUresult cuModuleGetFunction(Function **f, Module *m, const char *name) {
  if (!m || !name[0]) return NOT_FOUND;
  *f = calloc(1, sizeof(Function));
  strncpy((*f)->name, name, 255);
  return OK;
}
CUresult cuModuleUnload(Module *m) { free(m); return OK; }

CUresult cuLaunchKernel(Function *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shared, void *stream, void **params, void **extra) {
  if (!f || gx == 0 || gy == 0 || gz == 0 || bx * by * bz > 1024) return INVALID_VALUE;
  if (fail_next) { fail_next = 0; return LAUNCH_FAILED; }
  launches++;
  last_grid[0] = gx; last_grid[1] = gy; last_grid[2] = gz;
  last_block[0] = bx; last_block[1] = by; last_block[2] = bz;
  /* Arguments are read through the void** as the real driver does; the count comes from the test. */
  for (int i = 0; i < expect_args && i < 64; i++) last_args[i] = *(const uint64_t *)params[i];
  return extra == 0 ? OK : INVALID_VALUE;
}

/* Test hooks. */
void fake_expect_args(int n) { expect_args = n; }
void fake_fail_next_launch(void) { fail_next = 1; }
uint64_t fake_last_arg(int i) { return last_args[i]; }
long fake_launches(void) { return launches; }
int fake_live_allocs(void) { return live_allocs; }
void fake_last_launch(unsigned *grid_block) { memcpy(grid_block, last_grid, 12); memcpy(grid_block + 3, last_block, 12); }

CUresult cuEventCreate(Event **e, unsigned flags) { *e = calloc(1, sizeof(Event)); return OK; }
CUresult cuEventRecord(Event *e, void *stream) { e->at = launches; return OK; }
CUresult cuEventQuery(Event *e) { return OK; }
CUresult cuEventSynchronize(Event *e) { return OK; }
CUresult cuEventElapsedTime(float *ms, Event *a, Event *b) { *ms = 0.001f * (float)(b->at - a->at); return OK; }
CUresult cuEventDestroy_v2(Event *e) { free(e); return OK; }
