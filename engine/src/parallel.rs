//! Work that is one independent step per resource (diffing an instance, a provider's
//! check of a change, an identity) spread over the machine's cores, results in order.

/// How many threads a batch of `len` items is worth: one per core, and none for a batch
/// too small to pay for starting one.
fn threads_for(len: usize) -> usize {
    const PER_THREAD: usize = 2_000;
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(len / PER_THREAD)
        .max(1)
}

/// `items.iter().map(f).collect()`, on every core; the results are in `items`' order.
pub fn map<'a, T: Sync, R: Send>(items: &'a [T], f: impl Fn(&'a T) -> R + Sync) -> Vec<R> {
    let threads = threads_for(items.len());
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for h in handles {
            match h.join() {
                Ok(part) => out.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

/// `items.iter_mut().map(f).collect()`, on every core; the results are in `items`' order.
pub fn map_mut<T: Send, R: Send>(items: &mut [T], f: impl Fn(&mut T) -> R + Sync) -> Vec<R> {
    let threads = threads_for(items.len());
    if threads == 1 {
        return items.iter_mut().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    let len = items.len();
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks_mut(chunk)
            .map(|part| scope.spawn(move || part.iter_mut().map(f).collect::<Vec<R>>()))
            .collect();
        let mut out = Vec::with_capacity(len);
        for h in handles {
            match h.join() {
                Ok(part) => out.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

/// Drop `value` on a thread of its own: freeing a plan's worth of values takes a tenth of
/// a second at 100,000 resources, and nothing waits for it. Only for plain data (values,
/// no files or locks): a process that ends first does not finish the drop. On one core
/// the value is dropped here.
pub fn drop_later<T: Send + 'static>(value: T) {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) > 1 {
        // If no thread can be started the value comes back in the error and is dropped here.
        let _ = std::thread::Builder::new().spawn(move || drop(value));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_keep_the_order_of_the_items_at_every_size() {
        for n in [0, 1, 1_999, 4_000, 10_001] {
            let items: Vec<usize> = (0..n).collect();
            let doubled = super::map(&items, |i| i * 2);
            assert_eq!(doubled, items.iter().map(|i| i * 2).collect::<Vec<_>>());
            let mut items = items;
            let before = super::map_mut(&mut items, |i| {
                let was = *i;
                *i += 1;
                was
            });
            assert_eq!(before, (0..n).collect::<Vec<_>>());
            assert_eq!(items, (1..=n).collect::<Vec<_>>());
        }
    }
}
