//! A global allocator that counts the live heap bytes of the threads that asked to be
//! counted, and the most they reached: the harness's own threads (output capture,
//! other tests) allocate too, and a process-wide counter would count them.
//!
//! Include it with `#[path = "common/counting.rs"] mod counting;` (it installs itself
//! as the test binary's global allocator), call [`count_from_here`] on the test's
//! thread, and hold [`SERIAL`] so that tests do not overlap.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicIsize, Ordering};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

thread_local! {
    /// Only the test's own thread is counted, not the harness's.
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

fn count(delta: isize) {
    if COUNTED.with(Cell::get) {
        let live = LIVE.fetch_add(delta, Ordering::Relaxed) + delta;
        PEAK.fetch_max(live, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded to `System` unchanged; the counter only observes
// (a const-initialised thread local, which does not allocate).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: the caller upholds `alloc`'s contract, which `System` shares.
        unsafe { System.alloc(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Counted as the allocator does it: in place (mremap for large blocks), so
        // old and new never both count.
        count(new_size as isize - layout.size() as isize);
        // SAFETY: the caller upholds `realloc`'s contract, which `System` shares.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Tests must not overlap: the counters are process-wide.
pub(crate) static SERIAL: Mutex<()> = Mutex::new(());

/// Counts this thread's allocations from now on.
pub(crate) fn count_from_here() {
    COUNTED.with(|c| c.set(true));
}

/// Bytes the counted threads allocated and have not freed.
pub(crate) fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// The most [`live`] has been since [`reset_peak`].
pub(crate) fn peak() -> isize {
    PEAK.load(Ordering::Relaxed)
}

/// Starts a new peak at the current [`live`].
pub(crate) fn reset_peak() {
    PEAK.store(live(), Ordering::Relaxed);
}
