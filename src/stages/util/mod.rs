//! What several stages share (Ignition's `exec/util`): waiting for the devices a config names,
//! and running one piece of work on several threads at once.

pub mod devices;

use crate::error::{Error, Result};

/// Runs `work` on `n` threads at once, this one and `n - 1` more, until each returns. The
/// threads share whatever `work` hands out (an atomic index into a list, say); one spawn
/// for every caller keeps the binary small.
pub fn on_threads(n: usize, work: &(dyn Fn() + Sync)) -> Result<()> {
    std::thread::scope(|sc| {
        let others: Vec<_> = (1..n).map(|_| sc.spawn(work)).collect();
        work();
        others.into_iter().try_for_each(|t| {
            t.join()
                .map_err(|_| Error::failed("a worker thread panicked"))
        })
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn on_threads_runs_the_work_on_each_thread() {
        let ran = AtomicUsize::new(0);
        let threads = std::sync::Mutex::new(std::collections::HashSet::new());
        super::on_threads(3, &|| {
            ran.fetch_add(1, Ordering::Relaxed);
            threads.lock().unwrap().insert(std::thread::current().id());
        })
        .unwrap();
        assert_eq!(ran.load(Ordering::Relaxed), 3);
        assert_eq!(threads.lock().unwrap().len(), 3);
        // One thread: the caller's own.
        let caller = std::thread::current().id();
        let on = std::sync::Mutex::new(None);
        super::on_threads(1, &|| {
            *on.lock().unwrap() = Some(std::thread::current().id())
        })
        .unwrap();
        assert_eq!(*on.lock().unwrap(), Some(caller));
    }
}
