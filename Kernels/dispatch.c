// Run-time path selection: CPU feature checks, the KIBAN_KERNELS override and the active path.

#include "kiban_kernels.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KB_PATH_UNSET (-1)

static atomic_int active_path = KB_PATH_UNSET;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;

int kb_path_supported(kb_path path)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    switch (path) {
    case KB_PATH_SCALAR:
        return 1;
    case KB_PATH_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case KB_PATH_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("fma");
    }
    return 0;
#else
    return path == KB_PATH_SCALAR;
#endif
}

const char *kb_path_name(kb_path path)
{
    switch (path) {
    case KB_PATH_SCALAR: return "scalar";
    case KB_PATH_AVX2: return "avx2";
    case KB_PATH_AVX512: return "avx512";
    }
    return "unknown";
}

static kb_path best_path(void)
{
    if (kb_path_supported(KB_PATH_AVX512))
        return KB_PATH_AVX512;
    if (kb_path_supported(KB_PATH_AVX2))
        return KB_PATH_AVX2;
    return KB_PATH_SCALAR;
}

/// The path KIBAN_KERNELS asks for, or the best supported one (with a warning if the request cannot be honoured).
static kb_path path_from_env(void)
{
    const char *request = getenv("KIBAN_KERNELS");
    kb_path best = best_path();
    if (request == NULL || request[0] == '\0')
        return best;
    const kb_path paths[] = {KB_PATH_SCALAR, KB_PATH_AVX2, KB_PATH_AVX512};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (strcmp(request, kb_path_name(paths[i])) == 0 && kb_path_supported(paths[i]))
            return paths[i];
    fprintf(stderr, "kiban: KIBAN_KERNELS=%s is not supported on this CPU; using %s\n", request, kb_path_name(best));
    return best;
}

static void init_from_env(void)
{
    int expected = KB_PATH_UNSET;
    kb_path path = path_from_env();
    atomic_compare_exchange_strong(&active_path, &expected, (int)path);
}

kb_path kb_active_path(void)
{
    int path = atomic_load_explicit(&active_path, memory_order_relaxed);
    if (path == KB_PATH_UNSET) {
        pthread_once(&env_once, init_from_env);
        path = atomic_load(&active_path);
    }
    return (kb_path)path;
}

void kb_reload_path_from_env(void)
{
    atomic_store(&active_path, (int)path_from_env());
}

int kb_set_path(kb_path path)
{
    if (!kb_path_supported(path))
        return 0;
    atomic_store(&active_path, (int)path);
    return 1;
}
