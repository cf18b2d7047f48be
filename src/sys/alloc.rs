//! The process's memory allocator: blocks up to 32 KiB in 40 size classes, carved from 1 MiB
//! regions mapped once and reused through a free list per class; larger blocks, and those
//! aligned beyond 16 bytes, from libc's malloc.
//!
//! Why: a stage is a short process that builds a large config (tens of thousands of small
//! strings) and frees it. musl's allocator returns each emptied group of blocks to the kernel
//! at once and maps a new one for the next allocation: on files-10000 that was 1,900 mmap and
//! 1,450 munmap calls in the fetch stage alone, and a page fault for every page mapped again.
//! Here small blocks are never unmapped: a stage's memory is its peak of small blocks (a few
//! MiB) plus its large ones, which libc maps and unmaps as before (a 64 MiB data URL is one
//! such block).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};

/// The largest block served from the classes.
const MAX_SMALL: usize = 32 * 1024;
/// 8 classes of 16 bytes up to 128, then 4 per doubling up to [`MAX_SMALL`].
const CLASSES: usize = 40;
/// What a region mapped for the classes holds.
const REGION: usize = 1 << 20;
/// The alignment every block has.
const ALIGN: usize = 16;

/// The class of a block of `size` bytes and that class's block size.
const fn class(size: usize) -> (usize, usize) {
    if size <= 128 {
        let i = if size == 0 { 0 } else { (size - 1) / 16 };
        return (i, (i + 1) * 16);
    }
    // size - 1 lies in [2^k, 2^(k+1)): blocks of 2^k + j * 2^(k-2), j = 1..=4.
    let k = (usize::BITS - 1 - (size - 1).leading_zeros()) as usize;
    let step = 1 << (k - 2);
    let j = (size - (1 << k)).div_ceil(step);
    (8 + (k - 7) * 4 + (j - 1), (1 << k) + j * step)
}

struct State {
    /// The first free block of each class; each free block holds the next one's address.
    free: [*mut u8; CLASSES],
    /// The unused rest of the current region.
    next: *mut u8,
    end: *mut u8,
}

/// The allocator: one lock around the free lists (held for a few instructions; a region is
/// mapped outside it).
pub struct Alloc {
    lock: AtomicBool,
    state: UnsafeCell<State>,
}

// SAFETY: `state` is only touched while `lock` is held (see `with`).
unsafe impl Sync for Alloc {}

impl Alloc {
    pub const fn new() -> Alloc {
        Alloc {
            lock: AtomicBool::new(false),
            state: UnsafeCell::new(State {
                free: [std::ptr::null_mut(); CLASSES],
                next: std::ptr::null_mut(),
                end: std::ptr::null_mut(),
            }),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut spins = 0u32;
        while self
            .lock
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                // The holder may have been preempted.
                std::thread::yield_now();
            }
        }
        // SAFETY: the lock is held, so no other reference to the state exists until it is
        // released below.
        let r = f(unsafe { &mut *self.state.get() });
        self.lock.store(false, Ordering::Release);
        r
    }

    /// A block of class `c` (`size` bytes), or null when no memory can be mapped.
    #[inline(never)]
    fn small(&self, c: usize, size: usize) -> *mut u8 {
        loop {
            let got = self.with(|s| {
                let head = s.free[c];
                if !head.is_null() {
                    // SAFETY: a block on a free list is ours, unused, 16-aligned and at least
                    // 16 bytes: its first word is the next free block's address.
                    s.free[c] = unsafe { head.cast::<*mut u8>().read() };
                    return Some(head);
                }
                if (s.end as usize) - (s.next as usize) >= size {
                    let p = s.next;
                    // SAFETY: p + size stays within the current region (checked above).
                    s.next = unsafe { p.add(size) };
                    return Some(p);
                }
                None
            });
            if let Some(p) = got {
                return p;
            }
            // A new region; the rest of the old one is left unused (at most a block's size).
            // SAFETY: an anonymous private mapping: no file, no existing memory involved.
            let region = unsafe {
                rustix::mm::mmap_anonymous(
                    std::ptr::null_mut(),
                    REGION,
                    rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                    rustix::mm::MapFlags::PRIVATE,
                )
            };
            let Ok(region) = region else {
                return std::ptr::null_mut();
            };
            let region = region.cast::<u8>();
            self.with(|s| {
                s.next = region;
                // SAFETY: the mapping is REGION bytes long.
                s.end = unsafe { region.add(REGION) };
            });
        }
    }
}

impl Default for Alloc {
    fn default() -> Alloc {
        Alloc::new()
    }
}

fn is_small(l: &Layout) -> bool {
    l.size() <= MAX_SMALL && l.align() <= ALIGN
}

// SAFETY: blocks handed out are at least `layout.size()` bytes, aligned to 16 (every class
// size is a multiple of 16 and regions are page-aligned) and not handed out again until
// freed; large or over-aligned layouts go to the system allocator both ways, decided by the
// layout alone, which Rust passes unchanged to `dealloc` and `realloc`.
unsafe impl GlobalAlloc for Alloc {
    #[inline(never)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !is_small(&layout) {
            // SAFETY: forwarded with the caller's layout.
            return unsafe { System.alloc(layout) };
        }
        let (c, size) = class(layout.size());
        self.small(c, size)
    }

    #[inline(never)]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !is_small(&layout) {
            // SAFETY: forwarded with the caller's layout (calloc: fresh pages stay untouched).
            return unsafe { System.alloc_zeroed(layout) };
        }
        let (c, size) = class(layout.size());
        let p = self.small(c, size);
        if !p.is_null() {
            // SAFETY: p is a block of at least layout.size() bytes.
            unsafe { p.write_bytes(0, layout.size()) };
        }
        p
    }

    #[inline(never)]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !is_small(&layout) {
            // SAFETY: it came from System.alloc with this layout (see alloc).
            return unsafe { System.dealloc(ptr, layout) };
        }
        let (c, _) = class(layout.size());
        self.with(|s| {
            // SAFETY: ptr is a block of class c the caller no longer uses, 16-aligned and at
            // least 16 bytes: its first word can hold the list's next address.
            unsafe { ptr.cast::<*mut u8>().write(s.free[c]) };
            s.free[c] = ptr;
        });
    }

    #[inline(never)]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Ok(new) = Layout::from_size_align(new_size, layout.align()) else {
            return std::ptr::null_mut();
        };
        match (is_small(&layout), is_small(&new)) {
            // SAFETY: both from and to the system allocator, with the caller's layout.
            (false, false) => unsafe { System.realloc(ptr, layout, new_size) },
            (true, true) if class(layout.size()).0 == class(new_size).0 => ptr,
            _ => {
                // SAFETY: a new block for the new layout; the old one's bytes that fit are
                // copied before it is freed with its own layout.
                unsafe {
                    let p = self.alloc(new);
                    if !p.is_null() {
                        std::ptr::copy_nonoverlapping(ptr, p, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                    p
                }
            }
        }
    }
}

// SAFETY (every unsafe block of the tests): the layouts are valid, each block is read and
// written within its size, and freed once, with the layout it was allocated with.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_cover_every_size_with_the_smallest_block() {
        let mut last = (0, 16);
        for size in 1..=MAX_SMALL {
            let (c, b) = class(size);
            assert!(b >= size && b % ALIGN == 0, "size {size}: block {b}");
            assert!(c < CLASSES, "size {size}: class {c}");
            // Classes grow with the size, one block size per class.
            assert!(
                c == last.0 && b == last.1 || c == last.0 + 1 && b > last.1,
                "{size}"
            );
            // Waste: at most a quarter of the block above 128 bytes, 15 bytes below.
            assert!(b - size <= (b / 4).max(15), "size {size}: block {b}");
            last = (c, b);
        }
        assert_eq!(last, (CLASSES - 1, MAX_SMALL));
    }

    #[test]
    fn blocks_are_distinct_aligned_reused_and_keep_their_bytes() {
        let a = Alloc::new();
        let sizes = [1, 16, 17, 100, 129, 200, 1000, 4096, 5000, 32768, 40000];
        let mut held = Vec::new();
        for round in 0..3u8 {
            for &s in &sizes {
                let l = Layout::from_size_align(s, 8).unwrap();
                // SAFETY (test): a valid layout; the block is written within its size.
                let p = unsafe { a.alloc(l) };
                assert!(!p.is_null() && p as usize % ALIGN == 0);
                unsafe { p.write_bytes(round.wrapping_add(s as u8), s) };
                held.push((p, l, round.wrapping_add(s as u8)));
            }
        }
        let mut starts: Vec<usize> = held.iter().map(|h| h.0 as usize).collect();
        starts.sort();
        starts.dedup();
        assert_eq!(starts.len(), held.len(), "no block handed out twice");
        for &(p, l, v) in &held {
            // SAFETY (test): reads within the block written above.
            let bytes = unsafe { std::slice::from_raw_parts(p, l.size()) };
            assert!(bytes.iter().all(|&b| b == v));
        }
        // A freed block is handed out again for its class; growing within a class keeps it.
        let (p, l, _) = held[3]; // 100 bytes: the class of 97..=112
        unsafe { a.dealloc(p, l) };
        let again = unsafe { a.alloc(Layout::from_size_align(110, 1).unwrap()) };
        assert_eq!(again, p);
        let grown = unsafe { a.realloc(again, Layout::from_size_align(110, 1).unwrap(), 112) };
        assert_eq!(grown, again);
        // Growing past the class moves the bytes.
        unsafe { grown.write_bytes(7, 112) };
        let moved = unsafe { a.realloc(grown, Layout::from_size_align(112, 1).unwrap(), 50_000) };
        let bytes = unsafe { std::slice::from_raw_parts(moved, 112) };
        assert!(bytes.iter().all(|&b| b == 7));
        unsafe { a.dealloc(moved, Layout::from_size_align(50_000, 1).unwrap()) };
        let z = unsafe { a.alloc_zeroed(Layout::from_size_align(300, 16).unwrap()) };
        assert!(unsafe { std::slice::from_raw_parts(z, 300) }
            .iter()
            .all(|&b| b == 0));
    }

    #[test]
    fn threads_share_it() {
        static A: Alloc = Alloc::new();
        std::thread::scope(|sc| {
            for t in 0..4u8 {
                sc.spawn(move || {
                    let mut v = Vec::new();
                    for i in 0..20_000usize {
                        let l = Layout::from_size_align(16 + i % 700, 8).unwrap();
                        let p = unsafe { A.alloc(l) };
                        unsafe { p.write_bytes(t, l.size()) };
                        v.push((p, l));
                        if i % 3 == 0 {
                            let (p, l) = v.swap_remove(i % v.len());
                            let s = unsafe { std::slice::from_raw_parts(p, l.size()) };
                            assert!(s.iter().all(|&b| b == t), "a block another thread wrote");
                            unsafe { A.dealloc(p, l) };
                        }
                    }
                    for (p, l) in v {
                        let s = unsafe { std::slice::from_raw_parts(p, l.size()) };
                        assert!(s.iter().all(|&b| b == t));
                        unsafe { A.dealloc(p, l) };
                    }
                });
            }
        });
    }
}
