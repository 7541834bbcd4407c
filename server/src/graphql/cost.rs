//! What a list field with a page size costs in the complexity limit: its
//! page times what one item's selection costs (fuel-core's
//! `first * child_complexity`). Without it a page of 100 machines with
//! nested relations would cost as much as one, and the limit would say
//! nothing about the work or the answer's size.
//!
//! The page is clamped to what the resolver would serve: a `first` out of
//! range still reaches the resolver, which names the bound in its
//! BAD_USER_INPUT, instead of being refused as too complex.

/// The cost of `first` items (`default` when absent) of `child_complexity`.
pub fn page(first: Option<i32>, default: u64, max: u64, child_complexity: usize) -> usize {
    let items = first
        .map_or(default, |n| u64::try_from(n).unwrap_or(0))
        .clamp(1, max);
    usize::try_from(items)
        .unwrap_or(usize::MAX)
        .saturating_mul(child_complexity)
}

#[cfg(test)]
mod tests {
    use super::page;

    #[test]
    fn cost_grows_with_the_page() {
        assert_eq!(page(Some(1), 50, 100, 12), 12);
        assert_eq!(page(Some(100), 50, 100, 12), 1200);
        assert_eq!(page(None, 50, 100, 12), 600);
    }

    #[test]
    fn out_of_range_pages_cost_what_the_resolver_would_serve() {
        assert_eq!(page(Some(10_000), 50, 100, 12), 1200);
        assert_eq!(page(Some(-5), 50, 100, 12), 12);
        assert_eq!(
            page(Some(i32::MAX), 50, usize::MAX as u64, usize::MAX),
            usize::MAX
        );
    }
}
