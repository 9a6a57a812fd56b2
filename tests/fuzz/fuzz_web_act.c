/*  fuzz_web_act.c — libFuzzer entry point for fuzz_web_act (targets.h).
    Built only by `make fuzz`, with clang -fsanitize=fuzzer,address,undefined. */
#include "targets.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    return fuzz_web_act (data, size);
}
