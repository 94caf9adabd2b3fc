#include "CKernels.h"

/* __builtin_cpu_supports reads CPUID once (and checks with XGETBV that the operating system saves
 * the wider registers), so a set is reported only when both the CPU and the OS run it. */
int at_kernel_set_supported(int set) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    switch (set) {
    case AT_KERNELS_PORTABLE:
        return 1;
    case AT_KERNELS_AVX2:
        return __builtin_cpu_supports("avx2") ? 1 : 0;
    case AT_KERNELS_AVX512BW:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") ? 1 : 0;
    case AT_KERNELS_AVX512VNNI:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("avx512vnni") ? 1 : 0;
    default:
        return 0;
    }
#else
    return set == AT_KERNELS_PORTABLE;
#endif
}

int at_kernel_set_best(void) {
    for (int set = AT_KERNEL_SET_COUNT - 1; set > 0; set--)
        if (at_kernel_set_supported(set)) return set;
    return AT_KERNELS_PORTABLE;
}
