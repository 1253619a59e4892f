//! Whether the current thread runs a glommio executor, asked without panicking.
//!
//! glommio 0.9 offers no public check: every call that needs its executor
//! (`glommio::executor()`, `spawn_local`, timers, its sockets) panics outside one,
//! with "cannot access a scoped thread local variable without calling `set` first".
//! [`on_glommio`] makes one such call (`glommio::executor().id()`) under
//! [`std::panic::catch_unwind`]; a panic hook installed on the first probe (wrapping
//! whatever hook was there) keeps the probe's own panic from being printed, and
//! passes every other panic on.

use std::cell::Cell;

thread_local! {
    /// Set while this thread probes: its panic is expected, and not printed.
    static PROBING: Cell<bool> = const { Cell::new(false) };
}

/// True when the calling thread is running a glommio executor (inside
/// `LocalExecutor::run`, a `LocalExecutorBuilder::spawn`ed thread, or a core of a
/// [`Runtime`](crate::Runtime)), so that glommio's tasks, timers and sockets work
/// here. Never panics and prints nothing.
///
/// It costs a thread-local read on a runtime core, a `catch_unwind` around one
/// glommio call on another executor, and a caught panic elsewhere (microseconds):
/// call it once per operation that is about to need glommio (a bind, a connect, the
/// first wait), not per message.
///
/// Built with `panic = "abort"` the probe cannot catch glommio's panic, so this
/// answers true without probing (and a socket used outside an executor panics inside
/// glommio as before).
///
/// ```
/// use monocoque_runtime::on_glommio;
///
/// assert!(!on_glommio());
/// glommio::LocalExecutor::default().run(async {
///     assert!(on_glommio());
/// });
/// ```
pub fn on_glommio() -> bool {
    if crate::CoreContext::current().is_some() {
        return true;
    }
    probe()
}

#[cfg(panic = "abort")]
fn probe() -> bool {
    true
}

#[cfg(not(panic = "abort"))]
fn probe() -> bool {
    use std::sync::Once;
    static QUIET_HOOK: Once = Once::new();
    QUIET_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !PROBING.with(Cell::get) {
                previous(info);
            }
        }));
    });
    PROBING.with(|p| p.set(true));
    let answer = std::panic::catch_unwind(|| glommio::executor().id());
    PROBING.with(|p| p.set(false));
    answer.is_ok()
}

#[cfg(test)]
mod tests {
    use super::on_glommio;

    #[test]
    fn a_plain_thread_is_not_on_glommio_and_other_panics_still_report() {
        assert!(!on_glommio());
        assert!(!on_glommio(), "the probe can be repeated");
        // A panic that is not a probe still panics (and goes to the previous hook).
        let other = std::panic::catch_unwind(|| panic!("not a probe"));
        assert!(other.is_err());
        assert!(!on_glommio());
    }

    #[test]
    fn an_executor_is_on_glommio() {
        let on = glommio::LocalExecutorBuilder::default()
            .spawn(|| async { on_glommio() })
            .unwrap()
            .join()
            .unwrap();
        assert!(on);
    }

    #[test]
    fn a_runtime_core_is_on_glommio() {
        let rt = crate::Runtime::builder().cores(vec![0]).build().unwrap();
        let on = rt.on_each_core(|_| async { on_glommio() }).join().unwrap();
        assert_eq!(on, [true]);
        rt.shutdown();
    }
}
