//! Multiple-bit-rate stream selection (asf-facts §8): one alternative per
//! mutual-exclusion group, chosen to fit a bandwidth, as a client chooses
//! before StreamSwitch and a server checks.

use super::header::{StreamKind, StreamSet};
use super::summary::{ExclusionKind, HeaderSummary};

/// Preferences for [`select_streams`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Preferences<'p> {
    /// Bandwidth the selection should fit, bit/s (`None`: no limit, take the
    /// best of each group).
    pub max_bitrate: Option<u32>,
    /// Preferred language (RFC 1766, e.g. `fr`; compared case-insensitively
    /// on the primary subtag) for language groups.
    pub language: Option<&'p str>,
}

fn bitrate(h: &HeaderSummary<'_>, set: StreamSet) -> u32 {
    set.iter()
        .filter_map(|n| h.stream(n))
        .fold(0u32, |a, s| a.saturating_add(s.bitrate))
}

fn language_matches(h: &HeaderSummary<'_>, set: StreamSet, want: &str) -> bool {
    let primary = |s: &str| -> heapless::String<16> {
        s.chars()
            .take_while(|&c| c != '-')
            .flat_map(char::to_lowercase)
            .take(16)
            .collect()
    };
    let want = primary(want);
    set.iter()
        .filter_map(|n| h.stream(n)?.language_index)
        .filter_map(|i| h.language(i))
        .any(|l| {
            let mut buf = [0u8; 32];
            l.to_ascii(&mut buf).is_some_and(|s| primary(s) == want)
        })
}

/// Most combinations of bit-rate alternatives searched exhaustively.
const MAX_COMBINATIONS: usize = 4096;

/// One record per group: the combination with the highest total bit rate
/// that fits `budget` (or, if none fits, the lowest total). Exhaustive up
/// to [`MAX_COMBINATIONS`]; beyond that, greedy in group order.
fn best_combination(
    h: &HeaderSummary<'_>,
    groups: &[&heapless::Vec<StreamSet, 16>],
    budget: Option<u32>,
) -> StreamSet {
    let combos = groups.iter().try_fold(1usize, |a, g| {
        a.checked_mul(g.len()).filter(|&n| n <= MAX_COMBINATIONS)
    });
    let Some(combos) = combos else {
        let mut left = budget;
        let mut chosen = StreamSet::EMPTY;
        for recs in groups {
            let fits = |r: &&StreamSet| left.is_none_or(|b| bitrate(h, **r) <= b);
            let pick = recs
                .iter()
                .filter(fits)
                .max_by_key(|r| bitrate(h, **r))
                .or_else(|| recs.iter().min_by_key(|r| bitrate(h, **r)))
                .copied()
                .unwrap_or_default();
            chosen.0 |= pick.0;
            left = left.map(|b| b.saturating_sub(bitrate(h, pick)));
        }
        return chosen;
    };
    let mut best_fit: Option<(u64, StreamSet)> = None;
    let mut cheapest: Option<(u64, StreamSet)> = None;
    for mut i in 0..combos {
        let mut set = StreamSet::EMPTY;
        let mut total = 0u64;
        for recs in groups {
            let r = recs[i % recs.len()];
            i /= recs.len();
            set.0 |= r.0;
            total += bitrate(h, r) as u64;
        }
        if budget.is_none_or(|b| total <= b as u64) && best_fit.is_none_or(|(t, _)| total > t) {
            best_fit = Some((total, set));
        }
        if cheapest.is_none_or(|(t, _)| total < t) {
            cheapest = Some((total, set));
        }
    }
    best_fit.or(cheapest).map_or(StreamSet::EMPTY, |(_, s)| s)
}

/// Chooses the streams to play.
///
/// Streams in no exclusion group are always taken. Language groups take
/// the record in the preferred language, else the first. From the bit-rate
/// (and unknown) groups one record each is taken: the combination with the
/// highest total that fits what is left of the budget, else the cheapest. A header without any exclusion
/// object but with several audio or several video streams is treated as
/// VLC does: the audio streams form one bit-rate group, and so do the video
/// streams.
pub fn select_streams(h: &HeaderSummary<'_>, prefs: &Preferences<'_>) -> StreamSet {
    let mut groups: heapless::Vec<(ExclusionKind, heapless::Vec<StreamSet, 16>), 10> =
        heapless::Vec::new();
    let declared = h.all_streams();
    for e in &h.exclusions {
        // Records may name streams the header never declares: ignore those.
        let recs: heapless::Vec<StreamSet, 16> = e
            .records
            .iter()
            .map(|r| StreamSet(r.0 & declared.0))
            .filter(|r| !r.is_empty())
            .collect();
        if !recs.is_empty() {
            let _ = groups.push((e.kind, recs));
        }
    }
    if groups.is_empty() {
        for kind in [StreamKind::Audio, StreamKind::Video] {
            let mut recs = heapless::Vec::new();
            for s in h.streams.iter().filter(|s| s.kind == kind) {
                let _ = recs.push(StreamSet::EMPTY.with(s.number));
            }
            if recs.len() > 1 {
                let _ = groups.push((ExclusionKind::Bitrate, recs));
            }
        }
    }
    let grouped = groups.iter().fold(StreamSet::EMPTY, |a, (_, r)| {
        StreamSet(a.0 | r.iter().fold(0, |x, s| x | s.0))
    });
    let mut chosen = StreamSet(h.all_streams().0 & !grouped.0);
    let mut budget = prefs
        .max_bitrate
        .map(|m| m.saturating_sub(bitrate(h, chosen)));
    // Language groups first (they do not depend on bandwidth), then bit rate.
    for (kind, recs) in groups.iter().filter(|(k, _)| *k == ExclusionKind::Language) {
        let _ = kind;
        let pick = prefs
            .language
            .and_then(|l| recs.iter().find(|r| language_matches(h, **r, l)))
            .or(recs.first())
            .copied()
            .unwrap_or_default();
        chosen.0 |= pick.0;
        budget = budget.map(|b| b.saturating_sub(bitrate(h, pick)));
    }
    let rate_groups: heapless::Vec<&heapless::Vec<StreamSet, 16>, 10> = groups
        .iter()
        .filter(|(k, _)| *k != ExclusionKind::Language)
        .map(|(_, r)| r)
        .filter(|r| !r.is_empty())
        .collect();
    chosen.0 |= best_combination(h, &rate_groups, budget).0;
    chosen
}
