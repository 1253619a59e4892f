//! The synchronisation primitives that lock-free code in this crate is written against.
//!
//! Normally these are `std`'s. Under `cfg(loom)` they are [loom]'s, so that the same source
//! can be model-checked. The runtime crate itself is never built with `cfg(loom)` (it has no
//! loom dependency); `loom-tests/` compiles this file and `ring/` into its own crate, and
//! its build script sets `cfg(loom)` for that crate only, so a plain `cargo test --workspace`
//! runs the models without any `RUSTFLAGS`.
//!
//! Keep this to what the lock-free code uses: every item needs a loom twin with the same API.
//!
//! [loom]: https://docs.rs/loom

// `loom` is not a cfg this crate's manifest declares: only `loom-tests` sets it, for itself.
#![allow(unexpected_cfgs)]

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Mutex};

#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Mutex};

/// `std::cell::UnsafeCell` behind loom's closure API (`with` / `with_mut`), so that code using
/// it compiles unchanged against `loom::cell::UnsafeCell`, which tracks every access.
///
/// The closures receive a raw pointer; dereferencing it is `unsafe` and the caller states why
/// the access cannot race. There is no `get()`: a pointer must not outlive the closure, or
/// loom could not see the access.
#[cfg(not(loom))]
#[derive(Debug)]
#[repr(transparent)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    #[inline]
    pub(crate) const fn new(value: T) -> Self {
        Self(std::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a pointer for reading the contents.
    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Runs `f` with a pointer for writing the contents.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}
