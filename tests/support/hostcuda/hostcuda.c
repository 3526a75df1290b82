/*
 * hostcuda: a host-memory stand-in for libcuda.so.1, for tests only (never shipped).
 *
 * "Device" memory is ordinary host memory, so copies are memcpy and a device pointer can be
 * read back by the test. It keeps the driver API's contracts that our code relies on:
 * cuInit before anything else, a current context for memory calls, copies only into memory
 * that cuMemAlloc returned (or out of it, or out of mapped host memory), frees only of live
 * allocations, exact versioned symbol names. Violations return the CUDA error a real driver
 * would, so misuse shows up in tests.
 *
 * Fault knobs (environment, read at cuInit):
 *   HOSTCUDA_INIT_ERROR=N       cuInit returns N (100 = CUDA_ERROR_NO_DEVICE, 35 = insufficient driver)
 *   HOSTCUDA_DEVICES=N          number of devices (default 1)
 *   HOSTCUDA_INTEGRATED=1       report an integrated GPU (Jetson-like)
 *   HOSTCUDA_OOM_AFTER=N        cuMemAlloc_v2 fails with CUDA_ERROR_OUT_OF_MEMORY after N successes
 *   HOSTCUDA_HOSTALLOC_FAIL=1   cuMemHostAlloc fails with CUDA_ERROR_OUT_OF_MEMORY
 *   HOSTCUDA_REGISTER_FAIL=1    cuMemHostRegister_v2 fails with CUDA_ERROR_NOT_SUPPORTED
 *   HOSTCUDA_ELAPSED_FAIL=1     cuEventElapsedTime fails with CUDA_ERROR_INVALID_HANDLE
 *   HOSTCUDA_BATCH_FAIL=N       cuMemcpyBatchAsync(_v2) returns N without copying (801 =
 *                               CUDA_ERROR_NOT_SUPPORTED, as a driver refusing it would)
 *   HOSTCUDA_REGISTER_US=N      cuMemHostRegister_v2 takes N more microseconds per MiB (as
 *                               pinning pages does on a real host)
 *   HOSTCUDA_HTOD_FAIL_AFTER=N  host->device copies fail (CUDA_ERROR_ILLEGAL_ADDRESS) after N successes
 *   HOSTCUDA_TOTAL_MEM=BYTES    reported total memory (default 8 GiB)
 *   HOSTCUDA_NO_READONLY_REGISTER=1  report no support for CU_MEMHOSTREGISTER_READ_ONLY
 *   HOSTCUDA_ASYNC_US=N         streams created from now on run copies on a worker thread, each
 *                               after N microseconds (0 = synchronous, the default). Freeing or
 *                               unregistering memory that a queued copy still uses is counted
 *                               (hostcuda_violations()) and reported on stderr.
 * cuMemHostRegister_v2 rejects unknown flags, ranges overlapping a registered range, and
 * read-only memory (per /proc/self/maps) registered without CU_MEMHOSTREGISTER_READ_ONLY, as the
 * real driver does (it would have to pin the pages writable).
 * hostcuda_set(knob, value) changes a knob at run time (after cuInit), for in-process tests:
 * "OOM_AFTER", "HOSTALLOC_FAIL", "REGISTER_FAIL", "ELAPSED_FAIL", "BATCH_FAIL", "HTOD_FAIL_AFTER",
 * "INTEGRATED", "NO_READONLY_REGISTER", "ASYNC_US", "REGISTER_US"; returns 0, or -1 for an
 * unknown knob.
 * Introspection for tests: hostcuda_live_allocations(), hostcuda_htod_bytes(),
 * hostcuda_registered_bytes(), hostcuda_ctx_depth() (calling thread), hostcuda_primary_refs(dev),
 * hostcuda_batch_calls() (cuMemcpyBatchAsync calls that copied).
 * With an asynchronous stream, a batch call's copies take one delay together (one copy-engine
 * launch, as on a GPU).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct hc_ctx *CUcontext;
typedef struct hc_stream *CUstream;
typedef struct hc_event *CUevent;

enum {
  CUDA_SUCCESS = 0,
  CUDA_ERROR_INVALID_VALUE = 1,
  CUDA_ERROR_OUT_OF_MEMORY = 2,
  CUDA_ERROR_NOT_INITIALIZED = 3,
  CUDA_ERROR_INVALID_DEVICE = 101,
  CUDA_ERROR_NO_DEVICE = 100,
  CUDA_ERROR_INVALID_CONTEXT = 201,
  CUDA_ERROR_INVALID_HANDLE = 400,
  CUDA_ERROR_NOT_READY = 600,
  CUDA_ERROR_ILLEGAL_ADDRESS = 700,
  CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED = 712,
  CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED = 713,
  CUDA_ERROR_NOT_SUPPORTED = 801,
  CUDA_ERROR_INSUFFICIENT_DRIVER = 35,
};

struct hc_ctx { int device; int alive; };
/* A stream created while HOSTCUDA_ASYNC_US is set runs its copies and event records on a
 * worker thread, in order, each copy after a delay: like a GPU, the host returns before the
 * copy has read its source, so code that reuses or frees a buffer too early gets wrong data
 * (or a counted violation). Otherwise (async == 0) everything completes at once. */
struct hc_event;
struct op { int kind; void *dst; const void *src; size_t n; struct hc_event *ev;
            unsigned long long ticket; struct op *next; };
struct hc_stream { int alive; int async; pthread_t th; pthread_mutex_t mu; pthread_cond_t cv;
                   struct op *head, *tail; unsigned long long enq, done; int quit; };
struct hc_event { struct timespec t; int recorded; struct hc_stream *s; unsigned long long ticket; };

enum kind { K_DEVICE, K_PINNED, K_REGISTERED };
struct range { uintptr_t base; size_t len; enum kind kind; struct range *next; };

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_init;
static int g_devices = 1;
static int g_integrated;
static long long g_oom_after = -1;
static int g_hostalloc_fail;
static int g_register_fail;
static int g_elapsed_fail;
static int g_batch_fail;
static long long g_register_us;
static int g_no_ro_register;
static long long g_htod_fail_after = -1;
static long long g_async_us;
static unsigned long long g_violations;
#define MAX_ASYNC_STREAMS 256
static struct hc_stream *g_async[MAX_ASYNC_STREAMS];
static int g_n_async;
static unsigned long long g_total = 8ULL << 30;
static unsigned long long g_used;
static struct range *g_ranges;
static unsigned long long g_htod_bytes;
static __thread CUcontext t_stack[16];
static __thread int t_depth;

static long long env_ll(const char *name, long long dflt) {
  const char *v = getenv(name);
  return (v && *v) ? atoll(v) : dflt;
}

static struct range *find(uintptr_t p, size_t len) {
  for (struct range *r = g_ranges; r; r = r->next)
    if (p >= r->base && p + len <= r->base + r->len && p + len >= p) return r;
  return NULL;
}
static struct range *find_base(uintptr_t p, enum kind k) {
  for (struct range *r = g_ranges; r; r = r->next)
    if (r->base == p && r->kind == k) return r;
  return NULL;
}
static void add_range(uintptr_t base, size_t len, enum kind k) {
  struct range *r = malloc(sizeof *r);
  r->base = base; r->len = len; r->kind = k; r->next = g_ranges; g_ranges = r;
}
static void del_range(struct range *dead) {
  for (struct range **pp = &g_ranges; *pp; pp = &(*pp)->next)
    if (*pp == dead) { *pp = dead->next; free(dead); return; }
}

#define NEED_INIT() do { if (!g_init) return CUDA_ERROR_NOT_INITIALIZED; } while (0)
#define NEED_CTX() do { NEED_INIT(); if (t_depth == 0 || !t_stack[t_depth - 1]) return CUDA_ERROR_INVALID_CONTEXT; } while (0)

CUresult cuInit(unsigned int flags) {
  if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
  long long e = env_ll("HOSTCUDA_INIT_ERROR", 0);
  if (e) return (CUresult)e;
  pthread_mutex_lock(&g_lock);
  if (!g_init) {
    g_devices = (int)env_ll("HOSTCUDA_DEVICES", 1);
    g_integrated = (int)env_ll("HOSTCUDA_INTEGRATED", 0);
    g_oom_after = env_ll("HOSTCUDA_OOM_AFTER", -1);
    g_hostalloc_fail = (int)env_ll("HOSTCUDA_HOSTALLOC_FAIL", 0);
    g_register_fail = (int)env_ll("HOSTCUDA_REGISTER_FAIL", 0);
    g_elapsed_fail = (int)env_ll("HOSTCUDA_ELAPSED_FAIL", 0);
    g_batch_fail = (int)env_ll("HOSTCUDA_BATCH_FAIL", 0);
    g_register_us = env_ll("HOSTCUDA_REGISTER_US", 0);
    g_no_ro_register = (int)env_ll("HOSTCUDA_NO_READONLY_REGISTER", 0);
    g_htod_fail_after = env_ll("HOSTCUDA_HTOD_FAIL_AFTER", -1);
    g_async_us = env_ll("HOSTCUDA_ASYNC_US", 0);
    g_total = (unsigned long long)env_ll("HOSTCUDA_TOTAL_MEM", (long long)(8ULL << 30));
    g_init = 1;
  }
  pthread_mutex_unlock(&g_lock);
  return g_devices > 0 ? CUDA_SUCCESS : CUDA_ERROR_NO_DEVICE;
}

CUresult cuDriverGetVersion(int *v) { if (!v) return CUDA_ERROR_INVALID_VALUE; *v = 13000; return CUDA_SUCCESS; }
CUresult cuDeviceGetCount(int *n) { NEED_INIT(); if (!n) return CUDA_ERROR_INVALID_VALUE; *n = g_devices; return CUDA_SUCCESS; }
CUresult cuDeviceGet(CUdevice *d, int ordinal) {
  NEED_INIT();
  if (!d) return CUDA_ERROR_INVALID_VALUE;
  if (ordinal < 0 || ordinal >= g_devices) return CUDA_ERROR_INVALID_DEVICE;
  *d = ordinal; return CUDA_SUCCESS;
}
CUresult cuDeviceGetName(char *name, int len, CUdevice d) {
  NEED_INIT();
  if (!name || len <= 0) return CUDA_ERROR_INVALID_VALUE;
  if (d < 0 || d >= g_devices) return CUDA_ERROR_INVALID_DEVICE;
  snprintf(name, (size_t)len, "hostcuda stand-in %d (host memory, not a GPU)", d);
  return CUDA_SUCCESS;
}
CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice d) {
  NEED_INIT();
  if (!bytes) return CUDA_ERROR_INVALID_VALUE;
  if (d < 0 || d >= g_devices) return CUDA_ERROR_INVALID_DEVICE;
  *bytes = (size_t)g_total; return CUDA_SUCCESS;
}
CUresult cuDeviceGetAttribute(int *v, int attr, CUdevice d) {
  NEED_INIT();
  if (!v) return CUDA_ERROR_INVALID_VALUE;
  if (d < 0 || d >= g_devices) return CUDA_ERROR_INVALID_DEVICE;
  switch (attr) {
    case 75: *v = g_integrated ? 8 : 9; break;  /* COMPUTE_CAPABILITY_MAJOR */
    case 76: *v = g_integrated ? 7 : 0; break;  /* COMPUTE_CAPABILITY_MINOR */
    case 18: *v = g_integrated; break;          /* INTEGRATED */
    case 19: *v = 1; break;                     /* CAN_MAP_HOST_MEMORY */
    case 16: *v = 132; break;                   /* MULTIPROCESSOR_COUNT */
    case 33: *v = 1; break;                     /* PCI_BUS_ID */
    case 89: *v = 1; break;                     /* UNIFIED_ADDRESSING */
    case 113: *v = !g_no_ro_register; break;    /* READ_ONLY_HOST_REGISTER_SUPPORTED */
    default: *v = 0; break;
  }
  return CUDA_SUCCESS;
}

static CUresult push(CUcontext c) {
  if (t_depth >= 16) return CUDA_ERROR_INVALID_VALUE;
  t_stack[t_depth++] = c; return CUDA_SUCCESS;
}
CUresult cuCtxCreate_v2(CUcontext *out, unsigned int flags, CUdevice d) {
  (void)flags;
  NEED_INIT();
  if (!out) return CUDA_ERROR_INVALID_VALUE;
  if (d < 0 || d >= g_devices) return CUDA_ERROR_INVALID_DEVICE;
  CUcontext c = calloc(1, sizeof *c);
  c->device = d; c->alive = 1;
  *out = c;
  return push(c);
}
static struct hc_ctx g_primary[8];
CUresult cuDevicePrimaryCtxRetain(CUcontext *out, CUdevice d) {
  NEED_INIT();
  if (!out) return CUDA_ERROR_INVALID_VALUE;
  if (d < 0 || d >= g_devices || d >= 8) return CUDA_ERROR_INVALID_DEVICE;
  g_primary[d].device = d; g_primary[d].alive++;
  *out = &g_primary[d]; return CUDA_SUCCESS;
}
CUresult cuDevicePrimaryCtxRelease_v2(CUdevice d) {
  NEED_INIT();
  if (d < 0 || d >= 8 || g_primary[d].alive <= 0) return CUDA_ERROR_INVALID_CONTEXT;
  g_primary[d].alive--; return CUDA_SUCCESS;
}
CUresult cuCtxDestroy_v2(CUcontext c) {
  NEED_INIT();
  if (!c || !c->alive) return CUDA_ERROR_INVALID_CONTEXT;
  for (int i = 0; i < t_depth; i++) if (t_stack[i] == c) t_stack[i] = NULL;
  while (t_depth > 0 && !t_stack[t_depth - 1]) t_depth--;
  c->alive = 0; free(c); return CUDA_SUCCESS;
}
CUresult cuCtxPushCurrent_v2(CUcontext c) {
  NEED_INIT();
  if (!c || !c->alive) return CUDA_ERROR_INVALID_CONTEXT; /* destroyed, or a released primary */
  return push(c);
}
CUresult cuCtxPopCurrent_v2(CUcontext *out) {
  NEED_INIT();
  if (t_depth == 0) return CUDA_ERROR_INVALID_CONTEXT;
  CUcontext c = t_stack[--t_depth];
  if (out) *out = c;
  return CUDA_SUCCESS;
}
CUresult cuCtxGetCurrent(CUcontext *out) { NEED_INIT(); if (!out) return CUDA_ERROR_INVALID_VALUE; *out = t_depth ? t_stack[t_depth - 1] : NULL; return CUDA_SUCCESS; }
CUresult cuCtxSetCurrent(CUcontext c) {
  NEED_INIT();
  if (t_depth == 0) return c ? push(c) : CUDA_SUCCESS;
  t_stack[t_depth - 1] = c; return CUDA_SUCCESS;
}
CUresult cuCtxSynchronize(void) { NEED_CTX(); return CUDA_SUCCESS; }

CUresult cuMemGetInfo_v2(size_t *free_b, size_t *total) {
  NEED_CTX();
  if (!free_b || !total) return CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_lock(&g_lock);
  *total = (size_t)g_total; *free_b = (size_t)(g_total - g_used);
  pthread_mutex_unlock(&g_lock);
  return CUDA_SUCCESS;
}
CUresult cuMemAlloc_v2(CUdeviceptr *out, size_t bytes) {
  NEED_CTX();
  if (!out || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_lock(&g_lock);
  CUresult rc = CUDA_SUCCESS;
  if (g_oom_after == 0 || g_used + bytes > g_total) rc = CUDA_ERROR_OUT_OF_MEMORY;
  void *p = NULL;
  if (rc == CUDA_SUCCESS) {
    /* 256-byte alignment, as cuMemAlloc guarantees; poison so unfilled reads are visible. */
    if (posix_memalign(&p, 256, bytes) != 0) rc = CUDA_ERROR_OUT_OF_MEMORY;
  }
  if (rc == CUDA_SUCCESS) {
    memset(p, 0xA5, bytes);
    add_range((uintptr_t)p, bytes, K_DEVICE);
    g_used += bytes;
    if (g_oom_after > 0) g_oom_after--;
    *out = (CUdeviceptr)(uintptr_t)p;
  }
  pthread_mutex_unlock(&g_lock);
  return rc;
}
/* Called with g_lock held: counts queued copies touching [base, base+len). */
static void check_pending(uintptr_t base, size_t len, const char *what) {
  for (int i = 0; i < g_n_async; i++) {
    struct hc_stream *s = g_async[i];
    pthread_mutex_lock(&s->mu);
    for (struct op *o = s->head; o; o = o->next) {
      if (o->kind != 0) continue;
      uintptr_t d = (uintptr_t)o->dst, r = (uintptr_t)o->src;
      if ((d < base + len && base < d + o->n) || (r < base + len && base < r + o->n)) {
        g_violations++;
        fprintf(stderr, "hostcuda: %s of %p while a queued copy still uses it\n", what, (void *)base);
        break;
      }
    }
    pthread_mutex_unlock(&s->mu);
  }
}
CUresult cuMemFree_v2(CUdeviceptr p) {
  NEED_CTX();
  pthread_mutex_lock(&g_lock);
  struct range *r = find_base((uintptr_t)p, K_DEVICE);
  CUresult rc = CUDA_ERROR_INVALID_VALUE;
  if (r) {
    check_pending(r->base, r->len, "cuMemFree_v2");
    g_used -= r->len; free((void *)r->base); del_range(r); rc = CUDA_SUCCESS;
  }
  pthread_mutex_unlock(&g_lock);
  return rc;
}
CUresult cuMemHostAlloc(void **out, size_t bytes, unsigned int flags) {
  (void)flags;
  NEED_CTX();
  if (!out || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  if (g_hostalloc_fail) return CUDA_ERROR_OUT_OF_MEMORY;
  void *p = NULL;
  if (posix_memalign(&p, 4096, bytes) != 0) return CUDA_ERROR_OUT_OF_MEMORY;
  pthread_mutex_lock(&g_lock);
  add_range((uintptr_t)p, bytes, K_PINNED);
  pthread_mutex_unlock(&g_lock);
  *out = p; return CUDA_SUCCESS;
}
CUresult cuMemFreeHost(void *p) {
  NEED_CTX();
  pthread_mutex_lock(&g_lock);
  struct range *r = find_base((uintptr_t)p, K_PINNED);
  CUresult rc = CUDA_ERROR_INVALID_VALUE;
  if (r) { check_pending(r->base, r->len, "cuMemFreeHost"); free(p); del_range(r); rc = CUDA_SUCCESS; }
  pthread_mutex_unlock(&g_lock);
  return rc;
}
/* 1 if every byte of [p, p+n) lies in mappings with write permission, 0 if some byte is in a
 * read-only mapping, -1 if part of it is not mapped at all. */
static int range_writable(uintptr_t p, size_t n) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (!f) return 1;
  char line[512];
  uintptr_t cur = p, end = p + n;
  int result = -1;
  while (cur < end && fgets(line, sizeof line, f)) {
    unsigned long a, b; char perm[5];
    if (sscanf(line, "%lx-%lx %4s", &a, &b, perm) != 3) continue;
    if (cur >= a && cur < b) {
      if (perm[1] != 'w') { result = 0; break; }
      cur = b;
    }
  }
  fclose(f);
  if (result == 0) return 0;
  return cur >= end ? 1 : -1;
}
static int overlaps_registered(uintptr_t p, size_t n) {
  for (struct range *r = g_ranges; r; r = r->next)
    if (r->kind == K_REGISTERED && p < r->base + r->len && r->base < p + n) return 1;
  return 0;
}
unsigned long long hostcuda_registered_bytes(void);
CUresult cuMemHostRegister_v2(void *p, size_t bytes, unsigned int flags) {
  NEED_CTX();
  if (!p || bytes == 0 || (flags & ~0x0Fu)) return CUDA_ERROR_INVALID_VALUE;
  if (g_register_fail) return CUDA_ERROR_NOT_SUPPORTED;
  if (g_register_us > 0) {
    long long us = g_register_us * (long long)((bytes + (1u << 20) - 1) >> 20);
    struct timespec d = { us / 1000000, (us % 1000000) * 1000 };
    nanosleep(&d, 0);
  }
  if ((flags & 0x08u) && g_no_ro_register) return CUDA_ERROR_NOT_SUPPORTED;
  int w = range_writable((uintptr_t)p, bytes);
  if (w < 0) return CUDA_ERROR_INVALID_VALUE;
  if (w == 0 && !(flags & 0x08u)) return CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_lock(&g_lock);
  CUresult rc = CUDA_SUCCESS;
  if (overlaps_registered((uintptr_t)p, bytes)) rc = CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
  else add_range((uintptr_t)p, bytes, K_REGISTERED);
  pthread_mutex_unlock(&g_lock);
  return rc;
}
CUresult cuMemHostUnregister(void *p) {
  NEED_CTX();
  pthread_mutex_lock(&g_lock);
  struct range *r = find_base((uintptr_t)p, K_REGISTERED);
  CUresult rc = CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
  if (r) { check_pending(r->base, r->len, "cuMemHostUnregister"); del_range(r); rc = CUDA_SUCCESS; }
  pthread_mutex_unlock(&g_lock);
  return rc;
}
CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr *out, void *p, unsigned int flags) {
  NEED_CTX();
  if (!out || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_lock(&g_lock);
  struct range *r = find((uintptr_t)p, 1);
  CUresult rc = (r && r->kind != K_DEVICE) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_unlock(&g_lock);
  if (rc == CUDA_SUCCESS) *out = (CUdeviceptr)(uintptr_t)p;  /* mapped: same address */
  return rc;
}

static void enqueue(struct hc_stream *s, int kind, void *dst, const void *src, size_t n, struct hc_event *ev) {
  struct op *o = calloc(1, sizeof *o);
  o->kind = kind; o->dst = dst; o->src = src; o->n = n; o->ev = ev;
  pthread_mutex_lock(&s->mu);
  o->ticket = ++s->enq;
  if (ev) { ev->s = s; ev->ticket = o->ticket; ev->recorded = 1; }
  if (s->tail) s->tail->next = o; else s->head = o;
  s->tail = o;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}
static void *worker(void *arg) {
  struct hc_stream *s = arg;
  pthread_mutex_lock(&s->mu);
  for (;;) {
    while (!s->head && !s->quit) pthread_cond_wait(&s->cv, &s->mu);
    if (!s->head) break;
    struct op *o = s->head;
    pthread_mutex_unlock(&s->mu);
    if (o->kind == 0 || o->kind == 2) {
      /* kind 2: a later copy of one batch call, which the first one's delay covers (one
       * copy-engine launch for the whole call, as on a GPU). */
      struct timespec d = { g_async_us / 1000000, (g_async_us % 1000000) * 1000 };
      if (o->kind == 0) nanosleep(&d, NULL);
      if (o->n) memcpy(o->dst, o->src, o->n);
    } else {
      clock_gettime(CLOCK_MONOTONIC, &o->ev->t);
    }
    pthread_mutex_lock(&s->mu);
    s->head = o->next;
    if (!s->head) s->tail = NULL;
    s->done = o->ticket;
    free(o);
    pthread_cond_broadcast(&s->cv);
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}
static void wait_ticket(struct hc_stream *s, unsigned long long t) {
  pthread_mutex_lock(&s->mu);
  while (s->done < t) pthread_cond_wait(&s->cv, &s->mu);
  pthread_mutex_unlock(&s->mu);
}
static CUresult htod_kind(CUdeviceptr dst, const void *src, size_t n, struct hc_stream *s, int kind) {
  NEED_CTX();
  if (!src && n) return CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_lock(&g_lock);
  CUresult rc = CUDA_SUCCESS;
  if (g_htod_fail_after == 0) rc = CUDA_ERROR_ILLEGAL_ADDRESS;
  else if (n) {
    struct range *r = find((uintptr_t)dst, n);
    if (!r || r->kind != K_DEVICE) rc = CUDA_ERROR_INVALID_VALUE;
  }
  if (rc == CUDA_SUCCESS) {
    if (g_htod_fail_after > 0) g_htod_fail_after--;
    g_htod_bytes += n;
  }
  pthread_mutex_unlock(&g_lock);
  if (rc != CUDA_SUCCESS || !n) return rc;
  if (s && s->async) enqueue(s, kind, (void *)(uintptr_t)dst, src, n, NULL);
  else memcpy((void *)(uintptr_t)dst, src, n);
  return rc;
}
static CUresult htod_on(CUdeviceptr dst, const void *src, size_t n, struct hc_stream *s) {
  return htod_kind(dst, src, n, s, 0);
}
static CUresult htod(CUdeviceptr dst, const void *src, size_t n) { return htod_on(dst, src, n, NULL); }
static CUresult dtoh(void *dst, CUdeviceptr src, size_t n) {
  NEED_CTX();
  if (!dst && n) return CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_lock(&g_lock);
  /* Device memory, or mapped host memory (its device pointer is its host address here). */
  CUresult rc = (n == 0 || find((uintptr_t)src, n)) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_unlock(&g_lock);
  if (rc == CUDA_SUCCESS && n) memcpy(dst, (const void *)(uintptr_t)src, n);
  return rc;
}
static int stream_ok(CUstream s) { return s == NULL || s->alive; }
CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t n) { return htod(dst, src, n); }
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, CUstream s) {
  if (!stream_ok(s)) return CUDA_ERROR_INVALID_HANDLE;
  return htod_on(dst, src, n, s);
}
/* CUmemcpyAttributes (CUDA 12.8). */
typedef struct { int type; int id; } CUmemLocation;
typedef struct { int srcAccessOrder; CUmemLocation srcLocHint, dstLocHint; unsigned int flags; } CUmemcpyAttributes;
static unsigned long long g_batch_calls;
unsigned long long hostcuda_batch_calls(void) {
  pthread_mutex_lock(&g_lock); unsigned long long n = g_batch_calls; pthread_mutex_unlock(&g_lock);
  return n;
}
/* Host-to-device copies only (all the feed makes); the driver's checks on the arguments that
 * our code could get wrong: counts, the attribute table, the access order, overlapping
 * destinations. A failing copy fails the call (copies before it may have been queued). */
static CUresult batch(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t count,
                      CUmemcpyAttributes *attrs, size_t *idxs, size_t nattrs, size_t *fail, CUstream s) {
  NEED_CTX();
  if (!stream_ok(s)) return CUDA_ERROR_INVALID_HANDLE;
  if (!dsts || !srcs || !sizes || !count || !attrs || !idxs || !nattrs || nattrs > count || idxs[0] != 0)
    return CUDA_ERROR_INVALID_VALUE;
  for (size_t a = 0; a < nattrs; a++)
    if (attrs[a].srcAccessOrder < 1 || attrs[a].srcAccessOrder > 3 || (a && idxs[a] <= idxs[a - 1]) || idxs[a] >= count)
      return CUDA_ERROR_INVALID_VALUE;
  for (size_t i = 0; i < count; i++)
    for (size_t j = i + 1; j < count; j++)
      if (dsts[i] < dsts[j] + sizes[j] && dsts[j] < dsts[i] + sizes[i]) return CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_lock(&g_lock);
  int refuse = g_batch_fail;
  if (!refuse) g_batch_calls++;
  pthread_mutex_unlock(&g_lock);
  if (refuse) return refuse;
  for (size_t i = 0; i < count; i++) {
    CUresult rc = htod_kind(dsts[i], (const void *)(uintptr_t)srcs[i], sizes[i], s, i ? 2 : 0);
    if (rc != CUDA_SUCCESS) { if (fail) *fail = i; return rc; }
  }
  return CUDA_SUCCESS;
}
CUresult cuMemcpyBatchAsync_v2(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t count,
                               CUmemcpyAttributes *attrs, size_t *idxs, size_t nattrs, CUstream s) {
  return batch(dsts, srcs, sizes, count, attrs, idxs, nattrs, NULL, s);
}
CUresult cuMemcpyBatchAsync(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t count,
                            CUmemcpyAttributes *attrs, size_t *idxs, size_t nattrs, size_t *fail, CUstream s) {
  return batch(dsts, srcs, sizes, count, attrs, idxs, nattrs, fail, s);
}
CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n) { return dtoh(dst, src, n); }
CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t n, CUstream s) {
  if (!stream_ok(s)) return CUDA_ERROR_INVALID_HANDLE;
  /* Stream order: earlier queued copies on s land first. */
  if (s && s->async) { pthread_mutex_lock(&s->mu); unsigned long long t = s->enq; pthread_mutex_unlock(&s->mu); wait_ticket(s, t); }
  return dtoh(dst, src, n);
}

CUresult cuStreamCreate(CUstream *out, unsigned int flags) {
  NEED_CTX();
  if (!out || (flags & ~1u)) return CUDA_ERROR_INVALID_VALUE;
  CUstream s = calloc(1, sizeof *s);
  s->alive = 1;
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  pthread_mutex_lock(&g_lock);
  if (g_async_us > 0 && g_n_async < MAX_ASYNC_STREAMS) {
    s->async = 1;
    g_async[g_n_async++] = s;
  }
  pthread_mutex_unlock(&g_lock);
  if (s->async) pthread_create(&s->th, NULL, worker, s);
  *out = s; return CUDA_SUCCESS;
}
/* dlclose (the test's Driver dropped) must not unmap code that a stream worker still runs:
 * stop every worker and wait for it. */
__attribute__((destructor)) static void join_async_workers(void) {
  for (int i = 0; i < g_n_async; i++) {
    struct hc_stream *s = g_async[i];
    pthread_mutex_lock(&s->mu); s->quit = 1; pthread_cond_broadcast(&s->cv); pthread_mutex_unlock(&s->mu);
    pthread_join(s->th, NULL);
  }
  g_n_async = 0;
}
static void stream_drain(struct hc_stream *s) {
  if (!s || !s->async) return;
  pthread_mutex_lock(&s->mu);
  unsigned long long t = s->enq;
  pthread_mutex_unlock(&s->mu);
  wait_ticket(s, t);
}
CUresult cuStreamSynchronize(CUstream s) {
  NEED_CTX();
  if (!stream_ok(s)) return CUDA_ERROR_INVALID_HANDLE;
  stream_drain(s); return CUDA_SUCCESS;
}
CUresult cuStreamQuery(CUstream s) {
  NEED_CTX();
  if (!stream_ok(s)) return CUDA_ERROR_INVALID_HANDLE;
  if (!s || !s->async) return CUDA_SUCCESS;
  pthread_mutex_lock(&s->mu);
  int busy = s->done < s->enq;
  pthread_mutex_unlock(&s->mu);
  return busy ? CUDA_ERROR_NOT_READY : CUDA_SUCCESS;
}
CUresult cuStreamWaitEvent(CUstream s, CUevent e, unsigned int flags) {
  (void)flags; NEED_CTX();
  if (!stream_ok(s) || !e) return CUDA_ERROR_INVALID_HANDLE;
  if (e->s) wait_ticket(e->s, e->ticket);  /* stricter than needed: host waits */
  return CUDA_SUCCESS;
}
CUresult cuStreamDestroy_v2(CUstream s) {
  NEED_CTX();
  if (!s || !s->alive) return CUDA_ERROR_INVALID_HANDLE;
  s->alive = 0;
  if (s->async) {
    /* Like the driver: returns at once, queued work still completes afterwards (so memory
     * it uses must not be freed yet). The struct stays for events recorded on it. */
    pthread_mutex_lock(&s->mu); s->quit = 1; pthread_cond_broadcast(&s->cv); pthread_mutex_unlock(&s->mu);
    /* Not detached: join_async_workers joins it before the library is unloaded, whose code
     * it may still be running right after this returns. */
    return CUDA_SUCCESS;
  }
  free(s); return CUDA_SUCCESS;
}
CUresult cuEventCreate(CUevent *out, unsigned int flags) {
  NEED_CTX();
  if (!out || (flags & ~0x7u)) return CUDA_ERROR_INVALID_VALUE;
  *out = calloc(1, sizeof **out); return CUDA_SUCCESS;
}
CUresult cuEventRecord(CUevent e, CUstream s) {
  NEED_CTX();
  if (!e || !stream_ok(s)) return CUDA_ERROR_INVALID_HANDLE;
  if (s && s->async) { enqueue(s, 1, NULL, NULL, 0, e); return CUDA_SUCCESS; }
  e->s = NULL; clock_gettime(CLOCK_MONOTONIC, &e->t); e->recorded = 1; return CUDA_SUCCESS;
}
static int event_done(CUevent e) {
  if (!e->s) return 1;
  pthread_mutex_lock(&e->s->mu);
  int d = e->s->done >= e->ticket;
  pthread_mutex_unlock(&e->s->mu);
  return d;
}
CUresult cuEventQuery(CUevent e) {
  NEED_CTX();
  if (!e) return CUDA_ERROR_INVALID_HANDLE;
  return event_done(e) ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}
CUresult cuEventSynchronize(CUevent e) {
  NEED_CTX();
  if (!e) return CUDA_ERROR_INVALID_HANDLE;
  if (e->s) wait_ticket(e->s, e->ticket);
  return CUDA_SUCCESS;
}
CUresult cuEventElapsedTime(float *ms, CUevent a, CUevent b) {
  NEED_CTX();
  if (!ms || !a || !b || g_elapsed_fail) return CUDA_ERROR_INVALID_HANDLE;
  if (!a->recorded || !b->recorded || !event_done(a) || !event_done(b)) return CUDA_ERROR_NOT_READY;
  *ms = (float)((b->t.tv_sec - a->t.tv_sec) * 1e3 + (b->t.tv_nsec - a->t.tv_nsec) / 1e6);
  return CUDA_SUCCESS;
}
CUresult cuEventDestroy_v2(CUevent e) {
  NEED_CTX();
  if (!e) return CUDA_ERROR_INVALID_HANDLE;
  /* The driver releases a pending event once it completes; here: wait, then free. */
  if (e->s) wait_ticket(e->s, e->ticket);
  free(e); return CUDA_SUCCESS;
}

static const char *err_name(CUresult e) {
  switch (e) {
    case 0: return "CUDA_SUCCESS";
    case 1: return "CUDA_ERROR_INVALID_VALUE";
    case 2: return "CUDA_ERROR_OUT_OF_MEMORY";
    case 3: return "CUDA_ERROR_NOT_INITIALIZED";
    case 35: return "CUDA_ERROR_INSUFFICIENT_DRIVER";
    case 100: return "CUDA_ERROR_NO_DEVICE";
    case 101: return "CUDA_ERROR_INVALID_DEVICE";
    case 201: return "CUDA_ERROR_INVALID_CONTEXT";
    case 400: return "CUDA_ERROR_INVALID_HANDLE";
    case 600: return "CUDA_ERROR_NOT_READY";
    case 700: return "CUDA_ERROR_ILLEGAL_ADDRESS";
    case 712: return "CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED";
    case 713: return "CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED";
    case 801: return "CUDA_ERROR_NOT_SUPPORTED";
    default: return NULL;
  }
}
static const char *err_text(CUresult e) {
  switch (e) {
    case 0: return "no error";
    case 1: return "invalid argument";
    case 2: return "out of memory";
    case 3: return "initialization error";
    case 35: return "CUDA driver version is insufficient for CUDA runtime version";
    case 100: return "no CUDA-capable device is detected";
    case 101: return "invalid device ordinal";
    case 201: return "invalid device context";
    case 400: return "invalid resource handle";
    case 600: return "device not ready";
    case 700: return "an illegal memory access was encountered";
    case 712: return "part or all of the requested memory range is already mapped";
    case 713: return "pointer does not correspond to a registered memory region";
    case 801: return "operation not supported";
    default: return NULL;
  }
}
CUresult cuGetErrorName(CUresult e, const char **out) {
  if (!out) return CUDA_ERROR_INVALID_VALUE;
  *out = err_name(e);
  return *out ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
CUresult cuGetErrorString(CUresult e, const char **out) {
  if (!out) return CUDA_ERROR_INVALID_VALUE;
  *out = err_text(e);
  return *out ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* Test introspection (not part of the CUDA API). */
int hostcuda_live_allocations(void) {
  int n = 0;
  pthread_mutex_lock(&g_lock);
  for (struct range *r = g_ranges; r; r = r->next) n++;
  pthread_mutex_unlock(&g_lock);
  return n;
}
unsigned long long hostcuda_htod_bytes(void) { return g_htod_bytes; }
unsigned long long hostcuda_registered_bytes(void) {
  unsigned long long n = 0;
  pthread_mutex_lock(&g_lock);
  for (struct range *r = g_ranges; r; r = r->next) if (r->kind == K_REGISTERED) n += r->len;
  pthread_mutex_unlock(&g_lock);
  return n;
}
int hostcuda_ctx_depth(void) { return t_depth; }
int hostcuda_primary_refs(int dev) { return (dev >= 0 && dev < 8) ? g_primary[dev].alive : -1; }
int hostcuda_set(const char *knob, long long v) {
  int rc = 0;
  pthread_mutex_lock(&g_lock);
  if (!strcmp(knob, "OOM_AFTER")) g_oom_after = v;
  else if (!strcmp(knob, "HOSTALLOC_FAIL")) g_hostalloc_fail = (int)v;
  else if (!strcmp(knob, "REGISTER_FAIL")) g_register_fail = (int)v;
  else if (!strcmp(knob, "ELAPSED_FAIL")) g_elapsed_fail = (int)v;
  else if (!strcmp(knob, "BATCH_FAIL")) g_batch_fail = (int)v;
  else if (!strcmp(knob, "REGISTER_US")) g_register_us = v;
  else if (!strcmp(knob, "HTOD_FAIL_AFTER")) g_htod_fail_after = v;
  else if (!strcmp(knob, "INTEGRATED")) g_integrated = (int)v;
  else if (!strcmp(knob, "NO_READONLY_REGISTER")) g_no_ro_register = (int)v;
  else if (!strcmp(knob, "ASYNC_US")) g_async_us = v;
  else rc = -1;
  pthread_mutex_unlock(&g_lock);
  return rc;
}
unsigned long long hostcuda_violations(void) { return g_violations; }
