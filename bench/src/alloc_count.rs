//! A global allocator that counts allocations per thread, for the `alloc` scenario (and
//! zmtp's `tests/curve_allocs.rs`, which includes this file by path: keep it free of
//! crate-internal imports).
//!
//! Install it in a binary with
//! `#[global_allocator] static A: CountingAlloc = CountingAlloc;`; then
//! [`thread_allocations`] is the number of allocations (including reallocations) made
//! by the calling thread so far. The two sides of a run live on different threads, so
//! the send path and the receive path are counted separately.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The counting allocator: the system allocator plus a per-thread counter.
pub struct CountingAlloc;

thread_local! {
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

fn bump() {
    // `try_with`: the counter may be gone while the thread is being torn down.
    let _ = COUNT.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// only addition is a thread-local counter increment, which does not allocate.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Allocations made by the calling thread so far (0 forever if [`CountingAlloc`] is
/// not the global allocator).
pub fn thread_allocations() -> u64 {
    COUNT.try_with(Cell::get).unwrap_or(0)
}

/// True when [`CountingAlloc`] is the global allocator of this binary.
pub fn installed() -> bool {
    let before = thread_allocations();
    let b = std::hint::black_box(Box::new(0u64));
    drop(b);
    thread_allocations() > before
}
