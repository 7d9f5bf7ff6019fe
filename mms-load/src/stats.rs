//! Lateness samples: percentiles over every sample, sorted once.

/// Summary of a set of lateness samples (µs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Summary {
    pub(crate) count: usize,
    pub(crate) p50: u32,
    pub(crate) p99: u32,
    pub(crate) p999: u32,
    pub(crate) max: u32,
    /// Samples at most `within` µs late, per million.
    pub(crate) within_ppm: u64,
}

/// The nearest-rank percentile of sorted samples, `per_mille` in
/// thousandths (990: p99, 999: p99.9), in integers so that p99.9 of 1000
/// samples is the 999th.
pub(crate) fn percentile(sorted: &[u32], per_mille: usize) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (per_mille * sorted.len()).div_ceil(1000);
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Sorts `samples` and summarizes them; `within`: the lateness bound of
/// `within_ppm`, µs.
pub(crate) fn summarize(samples: &mut [u32], within: u32) -> Summary {
    samples.sort_unstable();
    let n = samples.len();
    if n == 0 {
        return Summary::default();
    }
    let ok = samples.partition_point(|&s| s <= within);
    Summary {
        count: n,
        p50: percentile(samples, 500),
        p99: percentile(samples, 990),
        p999: percentile(samples, 999),
        max: samples[n - 1],
        within_ppm: ok as u64 * 1_000_000 / n as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v: Vec<u32> = (1..=1000).collect();
        assert_eq!(percentile(&v, 500), 500);
        assert_eq!(percentile(&v, 990), 990);
        assert_eq!(percentile(&v, 999), 999);
        assert_eq!(percentile(&v, 1000), 1000);
        assert_eq!(percentile(&v, 0), 1);
        assert_eq!(percentile(&[], 500), 0);
        assert_eq!(percentile(&[7], 999), 7);
    }

    #[test]
    fn summary() {
        let mut v = vec![60_000, 10, 0, 50_000, 20];
        let s = summarize(&mut v, 50_000);
        assert_eq!((s.count, s.p50, s.max), (5, 20, 60_000));
        assert_eq!(s.within_ppm, 800_000);
        assert_eq!(summarize(&mut [], 1), Summary::default());
    }
}
