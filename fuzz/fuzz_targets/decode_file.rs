//! The `decode_file` target: properties in `callscribe::fuzzing::decode_file` (docs/FUZZING.md).
#![no_main]

#[global_allocator]
static ALLOC: callscribe::fuzzing::CountingAllocator = callscribe::fuzzing::CountingAllocator;

libfuzzer_sys::fuzz_target!(|data: &[u8]| callscribe::fuzzing::decode_file(data));
