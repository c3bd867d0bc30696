//! A bounded pool of model sets: a caller takes one, waiting while all are busy, and
//! gives it back afterwards, even when inference panicked. Bounding the sets bounds the
//! memory a burst of requests can take: beyond the pool's size, requests queue.

use std::sync::{Condvar, Mutex};

/// Items lent one caller at a time.
pub struct Pool<T> {
    items: Mutex<Vec<T>>,
    ready: Condvar,
}

impl<T> Pool<T> {
    /// A pool of these items.
    pub fn new(items: Vec<T>) -> Pool<T> {
        Pool {
            items: Mutex::new(items),
            ready: Condvar::new(),
        }
    }

    /// Runs `f` with an item, waiting for one to be free. `None` when `f` panicked (the
    /// item is returned to the pool all the same).
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let mut item = {
            let mut items = self.items.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                if let Some(m) = items.pop() {
                    break m;
                }
                items = self.ready.wait(items).unwrap_or_else(|p| p.into_inner());
            }
        };
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut item)));
        self.items
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(item);
        self.ready.notify_one();
        out.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn an_item_comes_back_after_a_panic_and_waiters_get_it() {
        let pool = Arc::new(Pool::new(vec![0u32]));
        assert_eq!(pool.with(|_| -> u32 { panic!("boom") }), None);
        let p2 = pool.clone();
        let t = std::thread::spawn(move || {
            p2.with(|n| {
                *n += 1;
                *n
            })
        });
        assert_eq!(
            pool.with(|n| {
                *n += 1;
                *n
            })
            .map(|v| v >= 1),
            Some(true)
        );
        assert!(t.join().ok().flatten().is_some());
        assert_eq!(pool.with(|n| *n), Some(2));
    }
}
