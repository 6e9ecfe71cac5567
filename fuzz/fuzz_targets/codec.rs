//! The `codec` target: properties in `callscribe::fuzzing::codec` (docs/FUZZING.md).
#![no_main]

#[global_allocator]
static ALLOC: callscribe::fuzzing::CountingAllocator = callscribe::fuzzing::CountingAllocator;

libfuzzer_sys::fuzz_target!(|data: &[u8]| callscribe::fuzzing::codec(data));
