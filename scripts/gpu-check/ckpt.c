// A minimal stand-in for NVIDIA's cuda-checkpoint, for machines whose driver has the checkpoint
// API (r555+) but not the tool: same flags (--action lock|checkpoint|restore|unlock|get-state
// --pid P), same driver calls, so GPU swap can be checked where the binary is not installed.
#include <cuda.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check(CUresult r, const char *what) {
  if (r == CUDA_SUCCESS) return 0;
  const char *name = NULL;
  cuGetErrorName(r, &name);
  fprintf(stderr, "%s failed: %s\n", what, name ? name : "unknown");
  return 1;
}

int main(int argc, char **argv) {
  const char *action = NULL;
  int pid = 0;
  for (int i = 1; i + 1 < argc; i++) {
    if (!strcmp(argv[i], "--action")) action = argv[++i];
    else if (!strcmp(argv[i], "--pid")) pid = atoi(argv[++i]);
  }
  if (!action || pid <= 0) {
    fprintf(stderr, "usage: ckpt --action lock|checkpoint|restore|unlock|get-state --pid P\n");
    return 2;
  }
  if (check(cuInit(0), "cuInit")) return 1;
  if (!strcmp(action, "lock")) {
    CUcheckpointLockArgs args;
    memset(&args, 0, sizeof args);
    args.timeoutMs = 10000;
    return check(cuCheckpointProcessLock(pid, &args), "lock");
  }
  if (!strcmp(action, "checkpoint")) return check(cuCheckpointProcessCheckpoint(pid, NULL), "checkpoint");
  if (!strcmp(action, "restore")) return check(cuCheckpointProcessRestore(pid, NULL), "restore");
  if (!strcmp(action, "unlock")) return check(cuCheckpointProcessUnlock(pid, NULL), "unlock");
  if (!strcmp(action, "get-state")) {
    CUprocessState state;
    if (check(cuCheckpointProcessGetState(pid, &state), "get-state")) return 1;
    const char *names[] = {"running", "locked", "checkpointed", "failed"};
    printf("%s\n", (unsigned)state < 4 ? names[state] : "unknown");
    return 0;
  }
  fprintf(stderr, "unknown action %s\n", action);
  return 2;
}
