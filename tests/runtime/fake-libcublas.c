/*
 * A stand-in for libcublas with the entry points runtime/cublas.ts binds, for machines
 * without a GPU. It pairs with fake-libcuda.c, whose "device" memory is host memory, so
 * its SGEMM can compute: column-major, with BLAS's argument checks, and the FFI
 * marshalling (handles, float pointers for alpha and beta, 64-bit device pointers, the
 * order of fourteen arguments) is tested by the product being right.
 *
 * Built by tests/runtime/cublas.test.ts: cc -shared -fPIC -o libcublas-fake.so fake-libcublas.c
 */
#include <stdint.h>
#include <stdlib.h>

enum { SUCCESS = 0, NOT_INITIALIZED = 1, INVALID_VALUE = 7 };
enum { OP_N = 0, OP_T = 1 };

typedef struct { void *stream; int live; } Handle;

static int handles = 0;

int cublasCreate_v2(Handle **h) { *h = calloc(1, sizeof(Handle)); (*h)->live = 1; handles++; return SUCCESS; }
int cublasDestroy_v2(Handle *h) { if (!h || !h->live) return NOT_INITIALIZED; h->live = 0; free(h); handles--; return SUCCESS; }
int cublasGetVersion_v2(Handle *h, int *v) { *v = 120903; return h && h->live ? SUCCESS : NOT_INITIALIZED; }
int cublasSetStream_v2(Handle *h, void *stream) { if (!h || !h->live) return NOT_INITIALIZED; h->stream = stream; return SUCCESS; }

static int max1(int x) { return x > 1 ? x : 1; }

int cublasSgemm_v2(Handle *h, int transa, int transb, int m, int n, int k, const float *alpha,
                   uint64_t A, int lda, uint64_t B, int ldb, const float *beta, uint64_t C, int ldc) {
  if (!h || !h->live) return NOT_INITIALIZED;
  if ((transa != OP_N && transa != OP_T) || (transb != OP_N && transb != OP_T) || m < 0 || n < 0 || k < 0 ||
      lda < max1(transa == OP_N ? m : k) || ldb < max1(transb == OP_N ? k : n) || ldc < max1(m))
    return INVALID_VALUE;
  const float *a = (const float *)(uintptr_t)A, *b = (const float *)(uintptr_t)B;
  float *c = (float *)(uintptr_t)C;
  for (int j = 0; j < n; j++)
    for (int i = 0; i < m; i++) {
      double s = 0;
      for (int l = 0; l < k; l++)
        s += (double)(transa == OP_N ? a[i + l * lda] : a[l + i * lda]) * (transb == OP_N ? b[l + j * ldb] : b[j + l * ldb]);
      c[i + j * ldc] = (float)(*alpha * s + (*beta == 0 ? 0 : *beta * c[i + j * ldc]));
    }
  return SUCCESS;
}

/* Test hook: handles created and not destroyed. */
int fake_cublas_handles(void) { return handles; }
