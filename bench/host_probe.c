// Host-side probe for a GPU machine: what can CPU copies and page-locking do on this host,
// with and without the copy engine reading at the same time? It answers where the staged
// feed's time goes (bench/RESULTS.md, "Where the staged feed's time went"), without Rust and
// without trtq-lite: libcuda is loaded with dlopen, the file is read with pread or mmap.
//
// Build (anywhere with a C compiler; carry the binary to the GPU host):
//   cc -O2 -mavx2 -mclflushopt -pthread -o target/host_probe bench/host_probe.c -ldl
// Run:   bash bench/host-probe.sh         (writes a 4 GiB file, runs the three modes)
//   or   target/host_probe FILE BATCH_MIB [scaling|ring|readers] [CPU,CPU,...]
// Modes:
//   scaling  copy rates by thread count (memcpy, pread, copy from the mapping; with a DMA
//            running meanwhile), a whole-batch pipeline like the feed's first version, and
//            cuMemHostRegister rates (threads, window sizes, with copies)
//   ring     chunked staging rings (threads x chunk size x ring size), and staged + registered
//            at the same time (hybrid)
//   readers  ring of 64 MiB with other readers: copy from the mapping, AVX2 streaming stores,
//            pread + clflushopt, streaming stores with per-chunk populate/drop
// The optional CPU list pins the copy threads (e.g. the GPU's NUMA node) in extra rows.
// Test support only: not part of trtq-lite.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <immintrin.h>

typedef int CUresult;
typedef int CUdevice;
typedef void *CUcontext;
typedef void *CUstream;
typedef void *CUevent;
typedef unsigned long long CUdeviceptr;

static CUresult (*cuInit)(unsigned);
static CUresult (*cuDeviceGet)(CUdevice *, int);
static CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
static CUresult (*cuCtxSetCurrent)(CUcontext);
static CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
static CUresult (*cuMemHostAlloc)(void **, size_t, unsigned);
static CUresult (*cuMemHostRegister)(void *, size_t, unsigned);
static CUresult (*cuMemHostUnregister)(void *);
static CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr, const void *, size_t, CUstream);
static CUresult (*cuStreamCreate)(CUstream *, unsigned);
static CUresult (*cuStreamSynchronize)(CUstream);
static CUresult (*cuEventCreate)(CUevent *, unsigned);
static CUresult (*cuEventRecord)(CUevent, CUstream);
static CUresult (*cuEventSynchronize)(CUevent);

static CUcontext ctx;
#define CK(x)                                                                 \
  do {                                                                        \
    CUresult r_ = (x);                                                        \
    if (r_) {                                                                 \
      fprintf(stderr, "%s failed: %d (line %d)\n", #x, r_, __LINE__);         \
      exit(1);                                                                \
    }                                                                         \
  } while (0)

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static void load(void) {
  void *h = dlopen("libcuda.so.1", RTLD_NOW);
  if (!h) { fprintf(stderr, "%s\n", dlerror()); exit(1); }
#define L(v, n) *(void **)&v = dlsym(h, n); if (!v) { fprintf(stderr, "no %s\n", n); exit(1); }
  L(cuInit, "cuInit"); L(cuDeviceGet, "cuDeviceGet");
  L(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain"); L(cuCtxSetCurrent, "cuCtxSetCurrent");
  L(cuMemAlloc, "cuMemAlloc_v2"); L(cuMemHostAlloc, "cuMemHostAlloc");
  L(cuMemHostRegister, "cuMemHostRegister_v2"); L(cuMemHostUnregister, "cuMemHostUnregister");
  L(cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2"); L(cuStreamCreate, "cuStreamCreate");
  L(cuStreamSynchronize, "cuStreamSynchronize"); L(cuEventCreate, "cuEventCreate");
  L(cuEventRecord, "cuEventRecord"); L(cuEventSynchronize, "cuEventSynchronize");
  CK(cuInit(0));
  CUdevice d; CK(cuDeviceGet(&d, 0));
  CK(cuDevicePrimaryCtxRetain(&ctx, d));
  CK(cuCtxSetCurrent(ctx));
}

static int fd;
static char *fmap;
static size_t fsize, B;
static CUdeviceptr dev[4];

// ---- a simple persistent thread pool: job(i, T, arg) on T threads, main waits -----
typedef void (*job_fn)(int i, int T, void *arg);
static pthread_barrier_t bar_start, bar_end;
static job_fn cur_job; static void *cur_arg; static int cur_T, pool_quit;
static int cpu_list[256], ncpu_list;
static void *pool_main(void *p) {
  int i = (int)(intptr_t)p;
  CK(cuCtxSetCurrent(ctx));
  for (;;) {
    pthread_barrier_wait(&bar_start);
    if (pool_quit) return 0;
    cur_job(i, cur_T, cur_arg);
    pthread_barrier_wait(&bar_end);
  }
}
static pthread_t pool_th[64];
static void pool_start(int T, int pin) {
  pthread_barrier_init(&bar_start, 0, T + 1);
  pthread_barrier_init(&bar_end, 0, T + 1);
  cur_T = T; pool_quit = 0;
  for (int i = 0; i < T; i++) {
    pthread_create(&pool_th[i], 0, pool_main, (void *)(intptr_t)i);
    if (pin && ncpu_list) {
      cpu_set_t s; CPU_ZERO(&s); CPU_SET(cpu_list[i % ncpu_list], &s);
      pthread_setaffinity_np(pool_th[i], sizeof s, &s);
    }
  }
}
static void pool_run(job_fn f, void *arg) {
  cur_job = f; cur_arg = arg;
  pthread_barrier_wait(&bar_start);
  pthread_barrier_wait(&bar_end);
}
static void pool_stop(int T) {
  pool_quit = 1;
  pthread_barrier_wait(&bar_start);
  for (int i = 0; i < T; i++) pthread_join(pool_th[i], 0);
  pthread_barrier_destroy(&bar_start); pthread_barrier_destroy(&bar_end);
}

// ---- jobs -------------------------------------------------------------------------
struct cp { char *dst; const char *src; size_t off; size_t n; int pread; };
static void job_copy(int i, int T, void *a) {
  struct cp *c = a;
  size_t share = (c->n / T + 4095) & ~(size_t)4095;
  size_t s = (size_t)i * share, e = s + share > c->n ? c->n : s + share;
  if (s >= e) return;
  if (c->pread) {
    size_t done = 0;
    while (done < e - s) {
      ssize_t r = pread(fd, c->dst + s + done, e - s - done, c->off + s + done);
      if (r <= 0) { perror("pread"); exit(1); }
      done += r;
    }
  } else {
    memcpy(c->dst + s, c->src + s, e - s);
  }
}

// background DMA hammer
static volatile int dma_stop; static double dma_bytes;
static void *dma_main(void *p) {
  char *buf = p; CUstream st; CK(cuCtxSetCurrent(ctx)); CK(cuStreamCreate(&st, 1));
  double n = 0;
  while (!dma_stop) {
    for (int k = 0; k < 4; k++) CK(cuMemcpyHtoDAsync(dev[3], buf, B, st));
    CK(cuStreamSynchronize(st)); n += 4.0 * B;
  }
  dma_bytes = n; return 0;
}

static char *pinned(size_t n) { void *p; CK(cuMemHostAlloc(&p, n, 0)); memset(p, 1, n); return p; }
static char *huge_pinned(size_t n) {
  size_t m = (n + (2 << 20) - 1) & ~((size_t)(2 << 20) - 1);
  void *p = mmap(0, m, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  madvise(p, m, MADV_HUGEPAGE); memset(p, 1, m);
  CK(cuMemHostRegister(p, m, 0)); return p;
}

static double ceiling(char *src, int iters) {
  CUstream st; CK(cuStreamCreate(&st, 1));
  CK(cuMemcpyHtoDAsync(dev[0], src, B, st)); CK(cuStreamSynchronize(st));
  double t = now();
  for (int k = 0; k < iters; k++) CK(cuMemcpyHtoDAsync(dev[k % 2], src, B, st));
  CK(cuStreamSynchronize(st));
  return iters * (double)B / (now() - t) / 1e9;
}

// T threads copy/pread batch after batch over the file into dst (no DMA unless hammer)
static double host_fill(int T, char *dst, int use_pread, int from_file, int hammer, char *hsrc, double *dma_gbs, int pin) {
  pool_start(T, pin);
  pthread_t dt;
  if (hammer) { dma_stop = 0; pthread_create(&dt, 0, dma_main, hsrc); usleep(2000); }
  size_t nb = fsize / B; if (nb > 100) nb = 100;
  char *src2 = from_file ? 0 : hsrc;
  double t = now();
  for (size_t b = 0; b < nb; b++) {
    struct cp c = { dst, from_file ? fmap + b * B : src2, b * B, B, use_pread };
    pool_run(job_copy, &c);
  }
  double el = now() - t;
  if (hammer) { dma_stop = 1; pthread_join(dt, 0); *dma_gbs = dma_bytes / el / 1e9; }
  pool_stop(T);
  return nb * (double)B / el / 1e9;
}

// full staged pipeline with persistent threads and nbuf staging buffers
static double pipeline(int T, int nbuf, char **stg, int pin) {
  pool_start(T, pin);
  CUstream st; CK(cuStreamCreate(&st, 1));
  CUevent ev[8]; for (int k = 0; k < nbuf; k++) CK(cuEventCreate(&ev[k], 2));
  int used[8] = {0};
  size_t nb = fsize / B; if (nb > 100) nb = 100;
  double t = now();
  for (size_t b = 0; b < nb; b++) {
    int k = b % nbuf;
    if (used[k]) CK(cuEventSynchronize(ev[k]));
    struct cp c = { stg[k], 0, b * B, B, 1 };
    pool_run(job_copy, &c);
    CK(cuMemcpyHtoDAsync(dev[b % 3], stg[k], B, st));
    CK(cuEventRecord(ev[k], st)); used[k] = 1;
  }
  CK(cuStreamSynchronize(st));
  double el = now() - t;
  pool_stop(T);
  return nb * (double)B / el / 1e9;
}

// registration: T threads register disjoint windows of W bytes over the file (READ_ONLY = 8)
struct rj { size_t W; size_t nwin; double reg_s[64], unreg_s[64]; int populate; double pop_s[64]; int dma; };
static void job_reg(int i, int T, void *a) {
  struct rj *r = a;
  CUstream st = 0;
  if (r->dma) CK(cuStreamCreate(&st, 1));
  for (size_t w = i; w < r->nwin; w += T) {
    char *p = fmap + w * r->W;
    double t0 = now();
    if (r->populate) madvise(p, r->W, 22 /* MADV_POPULATE_READ */);
    double t1 = now();
    CUresult e = cuMemHostRegister(p, r->W, 8);
    if (e) { fprintf(stderr, "register failed %d\n", e); exit(1); }
    double t2 = now();
    if (r->dma) {
      for (size_t o = 0; o + B <= r->W; o += B) CK(cuMemcpyHtoDAsync(dev[i % 3], p + o, B, st));
      CK(cuStreamSynchronize(st));
    }
    double t3 = now();
    CK(cuMemHostUnregister(p));
    madvise(p, r->W, MADV_DONTNEED);
    double t4 = now();
    r->pop_s[i] += t1 - t0; r->reg_s[i] += t2 - t1; r->unreg_s[i] += t4 - t3;
  }
}
static void reg_test(int T, size_t W, int populate, int dma) {
  struct rj r; memset(&r, 0, sizeof r); r.W = W; r.populate = populate; r.dma = dma;
  r.nwin = fsize / W; if (r.nwin > 64) r.nwin = 64;
  pool_start(T, 0);
  double t = now();
  pool_run(job_reg, &r);
  double el = now() - t;
  pool_stop(T);
  double reg = 0, un = 0, pop = 0;
  for (int i = 0; i < T; i++) { reg += r.reg_s[i]; un += r.unreg_s[i]; pop += r.pop_s[i]; }
  double tot = r.nwin * (double)W;
  printf("reg T=%-2d W=%4zuMB populate=%d dma=%d: wall %.1f GB/s | per-thread register %.1f GB/s, populate %.1f GB/s, unregister %.1f GB/s\n",
         T, W >> 20, populate, dma, tot / el / 1e9, tot / reg / 1e9 / 1, pop > 0 ? tot / pop / 1e9 : 0, tot / un / 1e9);
}

// DMA from a registered file window
static double regdma(size_t W) {
  char *p = fmap;
  CK(cuMemHostRegister(p, W, 8));
  CUstream st; CK(cuStreamCreate(&st, 1));
  double best = 0;
  for (int rep = 0; rep < 3; rep++) {
    double t = now();
    for (size_t o = 0; o + B <= W; o += B) CK(cuMemcpyHtoDAsync(dev[(o / B) % 3], p + o, B, st));
    CK(cuStreamSynchronize(st));
    double g = (W / B) * (double)B / (now() - t) / 1e9; if (g > best) best = g;
  }
  CK(cuMemHostUnregister(p));
  return best;
}


// ---- chunked ring: T threads take chunks of C bytes in order (atomic counter), pread each into a
// ring slot (K slots), and queue its DMA on their own stream. Optional registration thread
// streams a tail part of the file straight from registered windows at the same time.
#include <stdatomic.h>
static size_t R_C, R_K, R_nchunks, R_base; static char *R_ring; static CUevent R_ev[512];
static atomic_long R_next, R_seq[512]; static CUdeviceptr R_dev; static int R_map;
static void job_ring(int i, int T, void *a) {
  (void)a; (void)T; (void)i;
  CUstream st; CK(cuStreamCreate(&st, 1));
  for (;;) {
    long c = atomic_fetch_add(&R_next, 1);
    if ((size_t)c >= R_nchunks) break;
    size_t slot = c % R_K;
    if ((size_t)c >= R_K) {
      while (atomic_load(&R_seq[slot]) != c - (long)R_K) sched_yield();
      CK(cuEventSynchronize(R_ev[slot]));
    }
    char *dst = R_ring + slot * R_C;
    size_t off = R_base + c * R_C, done = 0;
    if (R_map == 4) madvise(fmap + off, R_C, 22 /* MADV_POPULATE_READ */);
    if (R_map == 1) memcpy(dst, fmap + off, R_C);
    else if (R_map == 2 || R_map == 4) {
      const char *s = fmap + off;
      for (size_t i = 0; i < R_C; i += 64) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(s + i)), y = _mm256_loadu_si256((const __m256i *)(s + i + 32));
        _mm256_stream_si256((__m256i *)(dst + i), x); _mm256_stream_si256((__m256i *)(dst + i + 32), y);
      }
      _mm_sfence();
    } else while (done < R_C) {
      ssize_t r = pread(fd, dst + done, R_C - done, off + done);
      if (r <= 0) { perror("pread"); exit(1); }
      done += r;
    }
    if (R_map == 3) { for (size_t i = 0; i < R_C; i += 64) _mm_clflushopt(dst + i); _mm_sfence(); }
    if (R_map == 4) madvise(fmap + off, R_C, MADV_DONTNEED);
    CK(cuMemcpyHtoDAsync(R_dev + (c * R_C) % (3 * B), dst, R_C, st));
    CK(cuEventRecord(R_ev[slot], st));
    atomic_store(&R_seq[slot], c);
  }
  CK(cuStreamSynchronize(st));
}
static double reg_tail_bytes, reg_tail_s;
struct regtail { size_t from, to; };
static void *reg_main(void *p) {
  struct regtail *r = p; CK(cuCtxSetCurrent(ctx));
  CUstream st; CK(cuStreamCreate(&st, 1));
  size_t W = 64 << 20; double t = now();
  char *prev = 0; size_t prevn = 0;
  for (size_t o = r->from; o + W <= r->to; o += W) {
    CK(cuMemHostRegister(fmap + o, W, 8));
    for (size_t k = 0; k + B <= W; k += B) CK(cuMemcpyHtoDAsync(dev[3], fmap + o + k, B, st));
    if (W % B) CK(cuMemcpyHtoDAsync(dev[3], fmap + o + W - W % B, W % B, st));
    if (prev) { CK(cuStreamSynchronize(st)); CK(cuMemHostUnregister(prev)); madvise(prev, prevn, MADV_DONTNEED); }
    prev = fmap + o; prevn = W; reg_tail_bytes += W;
  }
  CK(cuStreamSynchronize(st));
  if (prev) { CK(cuMemHostUnregister(prev)); madvise(prev, prevn, MADV_DONTNEED); }
  reg_tail_s = now() - t; return 0;
}
static double ring_test(int T, size_t C, size_t K, int map, double reg_frac, double *reg_gbs) {
  R_C = C; R_K = K; R_map = map;
  size_t total = fsize; if (total > (size_t)100 * B) total = 100 * B;
  size_t staged = reg_frac > 0 ? (size_t)(total * (1 - reg_frac)) : total;
  R_nchunks = staged / C; R_base = 0;
  atomic_store(&R_next, 0);
  for (size_t k = 0; k < K; k++) atomic_store(&R_seq[k], -1);
  pool_start(T, 0);
  pthread_t rt; struct regtail rtl = { (R_nchunks * C + (64 << 20)) & ~((size_t)(64 << 20) - 1), fsize };
  reg_tail_bytes = 0;
  double t = now();
  if (reg_frac > 0) pthread_create(&rt, 0, reg_main, &rtl);
  pool_run(job_ring, 0);
  double el_st = now() - t;
  if (reg_frac > 0) pthread_join(rt, 0);
  double el = now() - t;
  pool_stop(T);
  if (reg_gbs) *reg_gbs = reg_frac > 0 ? reg_tail_bytes / reg_tail_s / 1e9 : 0;
  (void)el_st;
  return (R_nchunks * (double)C + reg_tail_bytes) / el / 1e9;
}
static void ring_main(void) {
  R_ring = pinned((size_t)256 << 20);
  CK(cuMemAlloc(&R_dev, 3 * B + (64 << 20)));
  for (int k = 0; k < 512; k++) CK(cuEventCreate(&R_ev[k], 2));
  size_t Cs[] = {1 << 20, 2 << 20, 4 << 20, 8 << 20};
  int Ts[] = {8, 12, 14, 16};
  for (int ti = 0; ti < 4; ti++)
    for (int ci = 0; ci < 4; ci++) {
      size_t C = Cs[ci];
      printf("ring T=%-2d C=%zuMB:", Ts[ti], C >> 20);
      size_t ringMBs[] = {16, 32, 64, 128, 256};
      for (int ri = 0; ri < 5; ri++) {
        size_t K = (ringMBs[ri] << 20) / C;
        if (K < (size_t)Ts[ti] + 2 || K > 512) { printf("  ring%3zuMB   -- ", ringMBs[ri]); continue; }
        printf("  ring%3zuMB %5.1f", ringMBs[ri], ring_test(Ts[ti], C, K, 0, 0, 0));
      }
      printf("\n"); fflush(stdout);
    }
  for (int ti = 1; ti < 4; ti++) {
    printf("ring map-memcpy T=%-2d C=4MB ring32MB %5.1f ring64MB %5.1f\n", Ts[ti],
           ring_test(Ts[ti], 4 << 20, 8, 1, 0, 0), ring_test(Ts[ti], 4 << 20, 16, 1, 0, 0));
  }
  double fr[] = {0.2, 0.3, 0.4};
  for (int ti = 0; ti < 3; ti++)
    for (int fi = 0; fi < 3; fi++) {
      double rg; double g = ring_test(Ts[ti], 4 << 20, 16, 0, fr[fi], &rg);
      printf("hybrid T=%-2d staged ring 4MBx16 + registered tail %.0f%%: total %5.1f GB/s (registered part alone %5.1f)\n", Ts[ti], fr[fi] * 100, g, rg);
      fflush(stdout);
    }
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: host_probe FILE BATCH_MIB [scaling|ring|readers] [CPU,CPU,...]\n"); return 2; }
  const char *mode = argc > 3 ? argv[3] : "scaling";
  if (strcmp(mode, "scaling") && strcmp(mode, "ring") && strcmp(mode, "readers")) {
    fprintf(stderr, "unknown mode %s (scaling, ring, readers)\n", mode);
    return 2;
  }
  load();
  B = (size_t)atoi(argv[2]) << 20;
  if (argc > 4) { // comma list of cpus near the GPU
    char *s = strdup(argv[4]), *tok;
    for (tok = strtok(s, ","); tok; tok = strtok(0, ",")) cpu_list[ncpu_list++] = atoi(tok);
  }
  fd = open(argv[1], O_RDONLY); if (fd < 0) { perror(argv[1]); return 1; }
  struct stat sb; fstat(fd, &sb); fsize = sb.st_size;
  fmap = mmap(0, fsize, PROT_READ, MAP_SHARED, fd, 0);
  for (int k = 0; k < 4; k++) CK(cuMemAlloc(&dev[k], B));
  char *src = pinned(B), *dst = pinned(B), *hsrc = pinned(B), *hdst = huge_pinned(B);
  char *stg[4]; for (int k = 0; k < 4; k++) stg[k] = pinned(B);
  char *hstg[4]; for (int k = 0; k < 4; k++) hstg[k] = huge_pinned(B);
  printf("file %s %.2f GiB, batch %zu MiB\n", argv[1], fsize / 1073741824.0, B >> 20);
  if (!strcmp(mode, "ring")) { ring_main(); return 0; }
  if (!strcmp(mode, "readers")) {
    R_ring = pinned((size_t)256 << 20);
    CK(cuMemAlloc(&R_dev, 3 * B + (64 << 20)));
    for (int k = 0; k < 512; k++) CK(cuEventCreate(&R_ev[k], 2));
    const char *names[] = {"pread", "map memcpy (populated)", "map AVX2 stream (populated)", "pread+clflushopt", "map AVX2 stream, populate+dontneed per chunk"};
    for (int rep = 0; rep < 2; rep++)
      for (int m = 0; m < 5; m++)
        for (int T = 12; T <= 14; T += 2)
          for (int C = 2; C <= 4; C += 2) {
            printf("ring T=%d C=%dMB ring64MB %-46s %5.1f GB/s\n", T, C, names[m], ring_test(T, (size_t)C << 20, 64 / C, m, 0, 0));
            fflush(stdout);
          }
    return 0;
  }
  printf("ceiling pinned HtoD: %.1f GB/s; from hugepage-registered: %.1f GB/s\n", ceiling(src, 50), ceiling(hdst, 50));
  int Ts[] = {1, 2, 4, 8, 12, 16};
  double dg;
  for (int ti = 0; ti < 6; ti++) {
    int T = Ts[ti];
    double a = host_fill(T, dst, 0, 0, 0, src, &dg, 0);
    double b = host_fill(T, dst, 1, 1, 0, src, &dg, 0);
    double bh = host_fill(T, hdst, 1, 1, 0, src, &dg, 0);
    double c = host_fill(T, dst, 0, 1, 0, src, &dg, 0);
    double d = host_fill(T, dst, 1, 1, 1, hsrc, &dg, 0);
    double dd = dg;
    printf("T=%-2d memcpy pinned->pinned %5.1f | pread->pinned %5.1f | pread->hugepinned %5.1f | map memcpy->pinned %5.1f | pread->pinned with DMA hammer %5.1f (DMA %5.1f)\n",
           T, a, b, bh, c, d, dd);
    fflush(stdout);
  }
  if (ncpu_list) {
    for (int T = 4; T <= 12; T += 4) {
      double b = host_fill(T, dst, 1, 1, 0, src, &dg, 1);
      double d = host_fill(T, dst, 1, 1, 1, hsrc, &dg, 1);
      printf("pinned-to-GPU-node T=%-2d pread->pinned %5.1f | with DMA hammer %5.1f (DMA %5.1f)\n", T, b, d, dg);
    }
  }
  for (int T = 4; T <= 16; T += 4)
    for (int nb = 2; nb <= 4; nb += 2) {
      printf("pipeline T=%-2d nbuf=%d: %5.1f GB/s | hugepage staging %5.1f GB/s\n", T, nb,
             pipeline(T, nb, stg, 0), pipeline(T, nb, hstg, 0));
      fflush(stdout);
    }
  if (ncpu_list)
    for (int T = 4; T <= 12; T += 4) printf("pipeline pinned-to-GPU-node T=%-2d nbuf=4: %5.1f GB/s\n", T, pipeline(T, 4, stg, 1));
  size_t W = 64 << 20;
  int Rs[] = {1, 2, 4, 8, 16};
  for (int ri = 0; ri < 5; ri++) { reg_test(Rs[ri], W, 0, 0); fflush(stdout); }
  for (int ri = 0; ri < 5; ri++) { reg_test(Rs[ri], W, 0, 1); fflush(stdout); }
  reg_test(1, W, 1, 0); reg_test(4, W, 1, 0); reg_test(8, 256 << 20, 0, 0);
  printf("DMA from registered file pages (1 GiB window): %.1f GB/s\n", regdma(1 << 30));
  return 0;
}
