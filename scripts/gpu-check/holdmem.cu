// A stand-in GPU workload for scripts/gpu-check.sh: takes N MiB of device memory with cudaMalloc,
// fills it with a pattern, and checks the pattern on request. The check after a cuda-checkpoint
// checkpoint/restore cycle proves GPU swap keeps a tenant's memory intact.
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

static int verify(const unsigned char *dev, size_t bytes, unsigned char want) {
  size_t chunk = 64u << 20;
  unsigned char *host = (unsigned char *)malloc(chunk);
  for (size_t off = 0; off < bytes; off += chunk) {
    size_t n = bytes - off < chunk ? bytes - off : chunk;
    if (cudaMemcpy(host, dev + off, n, cudaMemcpyDeviceToHost) != cudaSuccess) { free(host); return 0; }
    for (size_t i = 0; i < n; i++) if (host[i] != want) { free(host); return 0; }
  }
  free(host);
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: holdmem MiB DIR\n"); return 2; }
  size_t mib = strtoull(argv[1], NULL, 10);
  const char *dir = argv[2];
  char verifyPath[512], exitPath[512];
  snprintf(verifyPath, sizeof verifyPath, "%s/verify", dir);
  snprintf(exitPath, sizeof exitPath, "%s/exit", dir);
  size_t bytes = mib << 20;
  unsigned char *dev = NULL;
  cudaError_t e = cudaMalloc((void **)&dev, bytes);
  if (e != cudaSuccess) { printf("ALLOC FAIL %s\n", cudaGetErrorString(e)); return 1; }
  cudaMemset(dev, 0x5A, bytes);
  cudaDeviceSynchronize();
  printf("READY pid=%d mib=%zu\n", (int)getpid(), mib);
  fflush(stdout);
  int checks = 0;
  while (!exists(exitPath)) {
    if (exists(verifyPath)) {
      unlink(verifyPath);
      printf("VERIFY%d %s\n", ++checks, verify(dev, bytes, 0x5A) ? "OK" : "FAIL");
      fflush(stdout);
    }
    usleep(100000);
  }
  cudaFree(dev);
  return 0;
}
